/**
 * A reload's moved sockets from the worker that gives them up, gathered into
 * messages of up to MAX_FDS descriptors on its descriptor channel
 * (fd-channel.ts) instead of one Node IPC message each. What else belongs to
 * the move (`auto-response`, `released`) goes on the same channel after the
 * sockets gathered so far, so the supervisor sees a slot released only after
 * its sockets, as it does on IPC.
 *
 * A socket's descriptor is taken from Node as its IPC does when it sends a
 * socket: the JS socket lets go of its handle (it emits nothing more), and
 * the handle is closed here once the message carrying its descriptor left
 * (the receiver holds its own copy by then), or could not leave (the client
 * then sees the connection end, as when an IPC send fails).
 */
import type { Socket } from "node:net";
import { type FdChannel, MAX_FDS } from "./fd-channel.ts";
import type { FromWorker, MovedSocket } from "./ipc.ts";

interface TcpHandle {
  fd: number;
  onread: unknown;
  close(): void;
}

export class SocketBatches {
  #moved: MovedSocket[] = [];
  #fds: number[] = [];
  #handles: TcpHandle[] = [];
  #scheduled = false;

  constructor(readonly channel: FdChannel) {}

  /** Queues one moved socket; it leaves with the others of this turn (or at once when the message is full). */
  socket(moved: MovedSocket, socket: Socket): void {
    const handle = (socket as unknown as { _handle: TcpHandle | null })._handle;
    if (handle === null || typeof handle.fd !== "number" || handle.fd < 0) {
      socket.destroy();
      return;
    }
    handle.onread = () => {};
    (socket as unknown as { _handle: TcpHandle | null })._handle = null;
    socket.setTimeout(0);
    this.#moved.push(moved);
    this.#fds.push(handle.fd);
    this.#handles.push(handle);
    if (this.#fds.length >= MAX_FDS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Sends a message of the move after the sockets queued before it. */
  send(message: FromWorker): void {
    this.flush();
    this.channel.send(message);
  }

  /** Sends the sockets queued so far. */
  flush(): void {
    if (this.#moved.length === 0) return;
    const handles = this.#handles;
    this.channel.send({ t: "sockets", moved: this.#moved } satisfies FromWorker, this.#fds, () => {
      for (const handle of handles) handle.close();
    });
    this.#moved = [];
    this.#fds = [];
    this.#handles = [];
  }
}
