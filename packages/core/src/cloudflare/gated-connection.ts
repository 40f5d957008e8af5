/**
 * A `connect()` socket opened by Durable Object code, behind the object's
 * output gate as on workerd: the connection starts only once the object's
 * writes so far are durable (workerd defers the connect until the output
 * locks clear), and each later write leaves only once the writes made
 * before it are (workerd's stream writes wait for the output locks too). A
 * Duplex standing in for the node:net / node:tls socket, which it opens
 * later and forwards to. From an instance that was reset, nothing leaves:
 * the connection never starts, or is destroyed.
 */
import type { Socket as NetSocket } from "node:net";
import { Duplex } from "node:stream";
import type { OutputOwner } from "../owner-context.ts";

/** What a gated connection waits for before the connect and before each write: the opening code's owner. */
export type GateOwner = OutputOwner;

export class GatedConnection extends Duplex {
  #socket: NetSocket | null = null;
  /** Writes (and the end) waiting for the socket to exist. */
  #waiting: Array<() => void> = [];
  #wantsData = false;

  /**
   * @param owner the opening code's owner (its barrier gates the connect and each write)
   * @param open makes the real socket (node:net or node:tls connect)
   * @param openEvent "connect" or "secureConnect": re-emitted, as `Socket` waits for it
   */
  constructor(
    readonly owner: GateOwner,
    open: () => NetSocket,
    readonly openEvent: "connect" | "secureConnect",
    allowHalfOpen: boolean,
  ) {
    super({ allowHalfOpen });
    const barrier = owner.outputBarrier();
    if (barrier === null) this.#attach(open());
    else
      barrier.then(
        () => {
          if (!this.destroyed) this.#attach(open());
        },
        (error: unknown) => this.destroy(error as Error),
      );
  }

  get remoteAddress(): string | undefined {
    return this.#socket?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket?.remotePort;
  }
  get localAddress(): string | undefined {
    return this.#socket?.localAddress;
  }
  get localPort(): number | undefined {
    return this.#socket?.localPort;
  }

  #attach(socket: NetSocket): void {
    this.#socket = socket;
    socket.once(this.openEvent, () => this.emit(this.openEvent));
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (error) => this.destroy(error));
    socket.on("close", () => this.destroy());
    if (!this.#wantsData) socket.pause();
    for (const run of this.#waiting.splice(0)) run();
  }

  override _read(): void {
    this.#wantsData = true;
    this.#socket?.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    // Writable calls this one chunk at a time: waiting here keeps the order.
    const barrier = this.owner.outputBarrier();
    const write = () => this.#whenOpen(() => this.#socket!.write(chunk, encoding, done));
    if (barrier === null) write();
    else barrier.then(write, (error: unknown) => done(error as Error));
  }

  override _final(done: (error?: Error | null) => void): void {
    const barrier = this.owner.outputBarrier();
    const end = () => this.#whenOpen(() => this.#socket!.end(() => done()));
    if (barrier === null) end();
    else barrier.then(end, (error: unknown) => done(error as Error));
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#waiting.length = 0;
    this.#socket?.destroy();
    done(error);
  }

  #whenOpen(run: () => void): void {
    if (this.#socket !== null) run();
    else this.#waiting.push(run);
  }
}
