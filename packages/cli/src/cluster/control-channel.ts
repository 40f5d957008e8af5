/**
 * The control channel between the supervisor and one worker: a stream socket
 * (an extra stdio pipe of the fork, fd 4 in the worker) carrying every message
 * that has no descriptor, as frames (frame-channel.ts). Node's IPC channel
 * stays for what carries a descriptor, because only it can pass one; but Node
 * sends nothing on it after a passed handle until the receiver acknowledged
 * that handle (one round trip per socket), so a burst of accepted connections
 * (or a reload's moved sockets) held every message behind it: routed calls,
 * replies, the lease's table, `fence`, `drain`. On their own channel they do
 * not wait for descriptors they have nothing to do with.
 *
 * Two paths mean two orders, so each message kind says which path it takes
 * and why that is safe (`TO_WORKER_ON_IPC`, `FROM_WORKER_ON_IPC` below):
 * - Nothing on IPC depends on an earlier control message (a connection, a
 *   moved socket, an upgrade's socket and a direct channel's end stand on their
 *   own), so IPC messages may overtake control ones.
 * - A control message that must not act before descriptors sent earlier
 *   carries `after`: the number of IPC messages the worker must have handled
 *   first (ControlOrder). The worker handles control messages strictly in
 *   order, so what follows a waiting one waits too (a call for a moved slot
 *   waits behind the `acquire` that waits for the slot's sockets).
 * - `fence` alone never waits: the node lost its lease, and nothing sent
 *   before it matters any more.
 * - A reload may move sockets on a third path, the descriptor channel
 *   (fd-channel.ts, many descriptors per message); a control message that
 *   must follow them carries `afterMoved`, counted the same way.
 */
import type { ChildProcess } from "node:child_process";
import { Socket } from "node:net";
import { FrameChannel } from "./frame-channel.ts";
import type { FromWorker, ToWorker } from "./ipc.ts";

/** The worker's end of the control channel: after stdin, stdout, stderr and Node's IPC channel (3). */
export const CONTROL_FD = 4;

/** fork()'s stdio for a worker: its output is the supervisor's, then Node's IPC channel, then the control channel. */
export const WORKER_STDIO: ["ignore", "inherit", "inherit", "ipc", "pipe"] = ["ignore", "inherit", "inherit", "ipc", "pipe"];

/**
 * Supervisor → worker kinds that stay on Node IPC. Everything else rides the control channel.
 * - `init`: the first message of all; the worker opens its control end only after it.
 * - `conn`, `channel`, `upgrade`, `socket`: they carry a descriptor.
 * - `auto-response`: part of a moved object, sent with its sockets (the object's first socket finds it set).
 */
const TO_WORKER_ON_IPC: ReadonlySet<ToWorker["t"]> = new Set(["init", "conn", "channel", "upgrade", "socket", "auto-response"]);

/**
 * Worker → supervisor kinds that stay on Node IPC.
 * - `ready`, `failed`, `imports`: the start, read by WorkerProcess before the worker serves.
 * - `socket`, `upgrade`: they carry a descriptor; `auto-response` goes with its object's sockets.
 * - `released`: says a slot's sockets were all sent, so it must come after them on the same path.
 * No control message from a worker depends on an earlier IPC one (replies, calls, body chunks and admin answers
 * name their request, not a descriptor).
 */
const FROM_WORKER_ON_IPC: ReadonlySet<FromWorker["t"]> = new Set(["ready", "failed", "imports", "socket", "upgrade", "auto-response", "released"]);

/** True when this supervisor → worker message goes on Node IPC (it, or what it belongs with, carries a descriptor). */
export function toWorkerOnIpc(message: ToWorker, handle: unknown): boolean {
  return handle !== undefined || TO_WORKER_ON_IPC.has(message.t);
}

/** True when this worker → supervisor message goes on Node IPC. */
export function fromWorkerOnIpc(message: FromWorker, handle: unknown): boolean {
  return handle !== undefined || FROM_WORKER_ON_IPC.has(message.t);
}

/**
 * What a control message must wait for on the IPC path, given the IPC messages sent so far (`ipcSent`) and the
 * count at the last one that concerned an object (`objectSeq`: a moved socket, its auto-response, an upgrade's socket):
 * - `acquire`: the slots' moved sockets (a reload) are adopted before the slots are served, so the first call to a
 *   moved object sees every WebSocket it had; `moved-in` (the reload's last word) likewise.
 * - `release`, `drain`, `hibernate`: an upgrade's socket sent before them is taken by its object first (else the
 *   object would move, close or hibernate while its socket is still on the way, and the socket would be dropped).
 * - `stop`: the connections sent before it are accepted before the worker stops accepting.
 * Connections (`conn`) and direct channels concern no object: nothing but `stop` waits for them.
 */
export function afterFor(message: ToWorker, ipcSent: number, objectSeq: number): number {
  if (WAIT_FOR_OBJECTS.has(message.t)) return objectSeq;
  return message.t === "stop" ? ipcSent : 0;
}

/** The kinds that wait for the sockets sent to objects before them (`afterFor`). */
const WAIT_FOR_OBJECTS: ReadonlySet<ToWorker["t"]> = new Set(["acquire", "moved-in", "release", "drain", "hibernate"]);

/**
 * What a control message must wait for on the descriptor channel (fd-channel.ts), given the messages sent there
 * (`movedSent`: a reload's batches of moved sockets and their objects' auto-responses): the kinds that wait for an
 * object's sockets on IPC (`afterFor`) wait for those too, and so does `stop` (what was sent before it is taken first).
 */
export function afterMovedFor(message: ToWorker, movedSent: number): number {
  return WAIT_FOR_OBJECTS.has(message.t) || message.t === "stop" ? movedSent : 0;
}

/** True when the message concerns an object's sockets (`afterFor`'s `objectSeq` moves past it). */
export function concernsObject(message: ToWorker): boolean {
  return message.t === "socket" || message.t === "upgrade" || message.t === "auto-response";
}

/**
 * The worker's side of the ordering: IPC messages (and descriptor channel messages) are counted as they are
 * handled, and control messages are handled in order, each once the IPC messages it names (`after`) and the
 * descriptor channel messages it names (`afterMoved`) were. Until `start` (the worker's handlers exist) control
 * messages wait; `fence` never waits.
 */
export class ControlOrder {
  /** IPC messages handled (init, read before this exists, is the first). */
  #ipcHandled = 1;
  #movedHandled = 0;
  readonly #queue: ToWorker[] = [];
  #deliver: ((message: ToWorker) => void) | null = null;
  #delivering = false;

  /** From now on control messages go to `deliver` (those that waited first, in order). */
  start(deliver: (message: ToWorker) => void): void {
    this.#deliver = deliver;
    this.#drain();
  }

  /** An IPC message was handled. */
  ipcHandled(): void {
    this.#ipcHandled++;
    this.#drain();
  }

  /** A message on the descriptor channel was handled. */
  movedHandled(): void {
    this.#movedHandled++;
    this.#drain();
  }

  /** A control message arrived. */
  control(message: ToWorker): void {
    if (message.t === "fence" && this.#deliver !== null) {
      this.#deliver(message);
      return;
    }
    this.#queue.push(message);
    this.#drain();
  }

  /** Control messages waiting (for IPC messages, or for `start`). */
  get waiting(): number {
    return this.#queue.length;
  }

  #drain(): void {
    if (this.#deliver === null || this.#delivering) return;
    this.#delivering = true;
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        if ("after" in head && typeof head.after === "number" && head.after > this.#ipcHandled) return;
        if ("afterMoved" in head && typeof head.afterMoved === "number" && head.afterMoved > this.#movedHandled) return;
        this.#queue.shift();
        this.#deliver(head);
      }
    } finally {
      this.#delivering = false;
    }
  }
}

/** The supervisor's end of a forked worker's control channel (null if the fork made no pipe: it failed to spawn). */
export function supervisorControl(child: ChildProcess): FrameChannel | null {
  const socket = child.stdio[CONTROL_FD];
  return socket instanceof Socket ? new FrameChannel(socket) : null;
}

/**
 * The worker's end. Unreferenced: the IPC channel keeps the worker alive, and a worker whose IPC channel closed
 * (its supervisor is gone) stops whatever this one says.
 */
export function workerControl(): FrameChannel {
  const socket = new Socket({ fd: CONTROL_FD, readable: true, writable: true });
  socket.unref();
  return new FrameChannel(socket);
}
