/**
 * A worker's output fence in a multi-machine cluster. The supervisor holds
 * the node's lease and sends the local deadline after every renewal; past it
 * another node may own this node's objects, so nothing may leave this
 * process: every client socket it serves has its `write`/`end` guarded, and
 * once the deadline passed (or the supervisor says the lease is lost) writes
 * are dropped. A process paused past its deadline (SIGSTOP, a VM freeze)
 * finds it passed on its first write after waking, whatever runs first. The
 * fence then closes WebSockets with 1012 (clients reconnect elsewhere: the
 * only bytes let through), cuts every connection and exits for the service
 * manager to restart the node.
 */
import type { Socket } from "node:net";
import type { Runtime } from "@torpor/core";
import { monotonicNow } from "@torpor/postgres/clock";

/** The exit code of a node that fenced itself (EX_TEMPFAIL: restart me). */
export const FENCED_EXIT_CODE = 75;

export class NodeFence {
  #deadline: number;
  #fenced = false;
  /** Set while the fence itself sends close frames. */
  #allowing = false;
  readonly #sockets = new Set<Socket>();
  #onFence: ((reason: string) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Set once the worker serves: before that nothing can leave, and a deadline passing while it loads is not a loss. */
  #armed = false;

  /** The supervisor's latest deadline, read at once (see node-deadline-file.ts), or null. */
  readonly #latest: () => number | null;

  constructor(deadline: number, latest: () => number | null = () => null) {
    this.#deadline = deadline;
    this.#latest = latest;
  }

  /** A renewal moved the deadline. The first one after the worker serves arms the fence. */
  update(deadline: number): void {
    if (deadline > this.#deadline) this.#deadline = deadline;
    // Deadline 0: the node has not joined yet (no lease, no slot); nothing leaves, and nothing is lost either.
    if (this.#onFence !== null && this.#deadline > 0) this.#armed = true;
    this.#arm();
  }

  /** The fence closes at the deadline even if nothing writes (the supervisor may be unable to say so). */
  #arm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#fenced || !this.#armed) return;
    this.#timer = setTimeout(() => this.valid(), Math.max(0, this.#deadline - monotonicNow()) + 1);
    this.#timer.unref();
  }

  get deadline(): number {
    return this.#deadline;
  }

  /** True while output may leave: not fenced and the deadline not passed. */
  valid(): boolean {
    if (this.#fenced) return false;
    if (monotonicNow() < this.#deadline) return true;
    // A later deadline may be waiting on the IPC channel behind passed sockets, or unread while this process was
    // busy: the one the supervisor wrote last decides (it only ever writes a renewed lease's). Read also at deadline 0
    // (not joined, as far as this process knows): the first deadline after the join waits behind sockets the same way,
    // and until it arrives the file is the only way to know the node joined (it holds 0 before).
    const latest = this.#latest();
    if (latest !== null && latest > this.#deadline) {
      this.update(latest);
      if (monotonicNow() < this.#deadline) return true;
    }
    if (this.#armed) this.fence("the node's lease deadline passed");
    return false;
  }

  /**
   * The worker serves from now on: `fn` runs when the fence closes. The next deadline from the supervisor
   * (sent when it installs the worker) arms it: from then on it closes at the deadline unless renewed.
   */
  onFence(fn: (reason: string) => void): void {
    this.#onFence = fn;
  }

  /** Closes the fence (idempotent). */
  fence(reason: string): void {
    if (this.#fenced) return;
    this.#fenced = true;
    this.#onFence?.(reason);
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  /** Guards a client socket this process serves: its writes pass only while the fence is open. */
  guard(socket: Socket): void {
    if (this.#sockets.has(socket)) return;
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    const write = socket.write;
    const end = socket.end;
    const fence = this;
    socket.write = function (this: Socket, ...args: unknown[]): boolean {
      if (fence.#allowing || fence.valid()) return (write as (...a: unknown[]) => boolean).apply(this, args);
      return true;
    } as Socket["write"];
    socket.end = function (this: Socket, ...args: unknown[]): Socket {
      if (fence.#allowing || fence.valid()) return (end as (...a: unknown[]) => Socket).apply(this, args);
      this.destroy();
      return this;
    } as Socket["end"];
  }

  /**
   * The fence's own output: every WebSocket of every object is closed with
   * 1012 (their close frames are let through, nothing else), then every
   * connection is cut after `graceMs` and `exit` runs.
   */
  shutDown(runtime: Runtime, graceMs: number, exit: () => void): void {
    this.#allowing = true;
    try {
      for (const host of runtime.hosts()) host.closeAllSockets(1012, "Node lost its cluster lease");
    } finally {
      this.#allowing = false;
    }
    setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
      exit();
    }, graceMs);
  }
}
