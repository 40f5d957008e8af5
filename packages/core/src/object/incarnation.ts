/**
 * One incarnation of an object: the instance made by one construction, from
 * its constructor until it hibernates or is reset. Its code runs in the
 * incarnation's async context (fault-isolation.ts), so whatever that code
 * does later (a handler resuming after a fetch, a timer) can be told apart
 * from the code of the next instance: once reset, an incarnation may report
 * no success, send nothing and start no subrequest.
 */
import { TorporError } from "../errors.ts";
import type { ConnectionOwner, OutputOwner, TiedConnection } from "../owner-context.ts";
import { currentOwner, type FaultOwner } from "./fault-isolation.ts";

/** What an incarnation reports to its object. */
export interface IncarnationHost {
  /** An exception escaped `incarnation`'s code. */
  incarnationFault(incarnation: Incarnation, error: unknown): void;
  /** A promise of `incarnation`'s code rejected with no handler. */
  incarnationRejection(incarnation: Incarnation, reason: unknown): void;
  /** Resolves once the object's writes so far are durable (rejects if they failed); null when they already are. */
  outputBarrier(): Promise<void> | null;
  /** The last pending timer of `incarnation` fired or was cleared. */
  incarnationTimersDone(incarnation: Incarnation): void;
}

/** The async context of one instance of an object. */
export class Incarnation implements FaultOwner, OutputOwner, ConnectionOwner {
  /**
   * Why the incarnation was reset (the error its unfinished events fail with), or null; a function makes it when
   * first asked (a hibernation's error is almost never read, and an Error's stack is ~20 µs of each hibernation).
   */
  #resetBy: Error | (() => Error) | null = null;
  /** Timers its code set that have not fired (or, intervals, been cleared): see object-timers.ts. */
  #timers: Set<NodeJS.Timeout> | null = null;

  /** Connections its code accepted or opened that no object owns (client ends, outbound clients, `connect()` sockets). */
  #connections: Set<TiedConnection> | null = null;

  constructor(readonly host: IncarnationHost) {}

  /** The error this incarnation's unfinished work fails with, or null while it was not reset. */
  get resetBy(): Error | null {
    if (typeof this.#resetBy === "function") this.#resetBy = this.#resetBy();
    return this.#resetBy;
  }

  /** True once reset (without making the error). */
  get wasReset(): boolean {
    return this.#resetBy !== null;
  }

  /** The object was reset: this incarnation's events fail with `error` (or what it makes), its output is dropped. */
  reset(error: Error | (() => Error)): void {
    this.#resetBy ??= error;
  }

  /**
   * What output of this incarnation's code (a subrequest, a send on a socket
   * no object owns) waits for: null when its object's writes so far are
   * durable; once reset, the reset's error (the output never leaves).
   */
  outputBarrier(): Promise<void> | null {
    if (this.#resetBy !== null) return Promise.reject(this.resetBy);
    return this.host.outputBarrier();
  }

  /** Its code accepted or opened `connection`: dropped if the incarnation is reset (at once if it already was). */
  tieConnection(connection: TiedConnection): void {
    if (this.#resetBy !== null) {
      connection.drop();
      return;
    }
    const connections = (this.#connections ??= new Set());
    // Closed ones are let go now and then, so a long-lived instance opening many does not keep them all.
    if (connections.size >= 32 && (connections.size & (connections.size - 1)) === 0) {
      for (const c of connections) if (!c.isOpen()) connections.delete(c);
    }
    connections.add(connection);
  }

  /**
   * How many connections its code accepted or opened are still open: they
   * keep the instance in memory, as open I/O keeps an object from being
   * evicted on Cloudflare (a hibernated instance could not serve them).
   */
  get openConnections(): number {
    let n = 0;
    for (const connection of this.#connections ?? []) if (connection.isOpen()) n++;
    return n;
  }

  /** Drops the connections its code accepted or opened (the instance was reset or evicted: nothing of it runs on). */
  dropConnections(): void {
    const connections = this.#connections;
    this.#connections = null;
    for (const connection of connections ?? []) if (connection.isOpen()) connection.drop();
  }

  /** A timer of this incarnation's code was set. */
  timerStarted(timer: NodeJS.Timeout): void {
    (this.#timers ??= new Set()).add(timer);
  }

  /** A timer fired (a timeout) or was cleared. */
  timerDone(timer: NodeJS.Timeout): void {
    const timers = this.#timers;
    if (timers === null || !timers.delete(timer)) return;
    if (this.pendingTimers === 0) this.host.incarnationTimersDone(this);
  }

  /** `clearTimeout(+timer)`: the timer by its primitive id. */
  timerDoneById(id: number): void {
    for (const timer of this.#timers ?? []) {
      if (Number(timer) !== id) continue;
      this.timerDone(timer);
      return;
    }
  }

  /** Timers that keep the instance live: set, not yet fired or cleared, and not `unref()`ed. */
  get pendingTimers(): number {
    let n = 0;
    for (const timer of this.#timers ?? []) if (timer.hasRef()) n++;
    return n;
  }

  /** Removes and returns the pending timers (the instance is being discarded). */
  takeTimers(): NodeJS.Timeout[] {
    const timers = this.#timers;
    this.#timers = null;
    return timers === null ? [] : [...timers];
  }

  uncaughtException(error: unknown): void {
    this.host.incarnationFault(this, error);
  }

  unhandledRejection(reason: unknown): void {
    this.host.incarnationRejection(this, reason);
  }
}

/** The incarnation whose code is running now, or undefined (Worker code, the runtime itself). */
export function currentIncarnation(): Incarnation | undefined {
  const owner = currentOwner();
  return owner instanceof Incarnation ? owner : undefined;
}

/**
 * The output gate for subrequests (a stub's RPC call, property read or
 * `fetch`, and the global `fetch()`), as on Cloudflare: code of an object
 * that made writes may not reach another object or the network until those
 * writes are durable, or a power loss could keep the effect (another
 * object's write, an external call) and lose its cause. Returns a promise
 * to wait for, or null when the call may leave now (no writes pending, or
 * not object code). Code of an instance that was reset gets its reset error:
 * its subrequests never leave.
 */
export function subrequestGate(): Promise<void> | null {
  return currentIncarnation()?.outputBarrier() ?? null;
}

/**
 * Runs `send` once `subrequestGate()` allows (at once when nothing is
 * pending): from Durable Object code, once the object's writes so far are
 * durable; from an instance that was reset, never (the promise rejects with
 * the reset's error). Bindings that write elsewhere (KV, D1, R2) use it, as
 * workerd waits for the output locks before their requests.
 */
export function afterOutputGate<T>(send: () => Promise<T>): Promise<T> {
  const wait = subrequestGate();
  return wait === null ? send() : wait.then(send);
}

/** `ERR_OBJECT_RESET`: the object was reset (`reason`) while the caller's event was still running. */
export function objectResetError(label: string, reason: string, cause?: unknown): TorporError {
  return new TorporError(
    "ERR_OBJECT_RESET",
    `Durable Object ${label} was reset (${reason}) while this call was running; its result was discarded, and its writes after the last acknowledged one may be lost.`,
    cause === undefined ? undefined : { cause },
  );
}
