/**
 * The incarnations of one object (incarnation.ts): the live instance's, and
 * what becomes of one its object discards. A reset or hibernation discards
 * the live incarnation, but code of it can still run afterwards (a handler
 * resuming after a fetch, an `unref()`ed timer, a promise no event awaited):
 * that is dead code, whose sends are dropped and whose subrequests reject.
 * Faults of an incarnation's code are reported here too; the object is reset
 * only if that incarnation is still the live one.
 */
import { TorporError } from "../errors.ts";
import type { ObjectKey, ObjectStorage } from "../storage/storage-provider.ts";
import { currentIncarnation, Incarnation, type IncarnationHost } from "./incarnation.ts";
import { cancelTimer } from "./object-timers.ts";
import type { OutputGate } from "./output-gate.ts";

/** What the incarnations need from their object's host. */
export interface IncarnationsOwner {
  readonly key: ObjectKey;
  readonly instance: object | null;
  readonly storage: ObjectStorage | null;
  readonly gate: OutputGate;
  /** Counts and logs an error of the object's code. */
  report(message: string, error: unknown): void;
  /** Discards the live instance (its sockets close with `code`). */
  reset(code: number, reason: string, cause?: unknown): void;
  /** A pin went away: the object may hibernate once idle. */
  unpinned(): void;
}

/** One object's incarnations: the live one, and whether code of a discarded one may still be running. */
export class Incarnations implements IncarnationHost {
  /** The live instance's incarnation, or null while hibernated. */
  current: Incarnation | null = null;
  /** How many were discarded: while 0 (nearly always), no dead code of this object can be running. */
  #discarded = 0;

  constructor(readonly owner: IncarnationsOwner) {}

  /** A construction begins; its code runs in the incarnation returned. */
  begin(): Incarnation {
    this.current = new Incarnation(this);
    return this.current;
  }

  /**
   * The live instance hibernates (idle, evicted or asked to): as when
   * Cloudflare evicts an isolate, nothing of it runs on. Its timers are
   * cancelled (only `unref()`ed ones can be left: pending ones pin it), the
   * connections its code opened or accepted are dropped (open ones pin it
   * too), and its code that still runs later is dead code.
   */
  retire(): void {
    const incarnation = this.current;
    if (incarnation === null) return;
    for (const timer of incarnation.takeTimers()) cancelTimer(timer);
    // Open ones pin the instance (ObjectHost.blockers); one still starting or being forced out goes with it.
    incarnation.dropConnections();
    const { namespace, name, id } = this.owner.key;
    this.#discard(
      incarnation,
      () =>
        new TorporError(
          "ERR_OBJECT_RESET",
          `Durable Object ${namespace}/${name ?? id} hibernated: code its dropped instance left running (an unref()ed timer, a promise no event awaited) cannot send or make subrequests.`,
        ),
    );
  }

  /**
   * `incarnation` was reset with `error`: its unfinished events fail with it;
   * its pending timers would only run dead code; the connections its code
   * accepted or opened that no object owns are dropped, as workerd tears down
   * a broken actor's I/O (the peer sees 1006 "WebSocket disconnected without
   * sending Close frame.").
   */
  reset(incarnation: Incarnation, error: Error): void {
    this.#discard(incarnation, error);
    for (const timer of incarnation.takeTimers()) if (timer.hasRef()) cancelTimer(timer);
    incarnation.dropConnections();
  }

  #discard(incarnation: Incarnation, error: Error | (() => Error)): void {
    this.#discarded++;
    incarnation.reset(error);
  }

  /** True when the running code belongs to a discarded incarnation of this object (its output must be dropped). */
  get deadCodeRunning(): boolean {
    if (this.#discarded === 0) return false;
    const running = currentIncarnation();
    return running !== undefined && running.host === this && running.wasReset;
  }

  /** IncarnationHost: a promise of the object's code rejected with no handler (logged; the object goes on, as on Cloudflare). */
  incarnationRejection(_incarnation: Incarnation, reason: unknown): void {
    this.owner.report("Unhandled promise rejection (the server keeps running)", reason);
  }

  /** IncarnationHost: an exception escaped the code of `incarnation` (a timer, a listener, a microtask): reset the object if that instance is still the live one. */
  incarnationFault(incarnation: Incarnation, error: unknown): void {
    const live = incarnation === this.current && this.owner.instance !== null;
    this.owner.report(
      live
        ? "Uncaught exception in Durable Object code; resetting the object"
        : "Uncaught exception in code of a Durable Object instance that was already dropped",
      error,
    );
    if (live) this.owner.reset(1011, "Durable Object reset after an uncaught exception", error);
  }

  /** IncarnationHost: the instance's last pending timer is done; it may hibernate again once idle. */
  incarnationTimersDone(incarnation: Incarnation): void {
    if (incarnation === this.current) this.owner.unpinned();
  }

  /** IncarnationHost: what a subrequest of this object's code waits for (see subrequestGate). */
  outputBarrier(): Promise<void> | null {
    return this.owner.gate.barrier(this.owner.storage?.inClosure === true);
  }
}
