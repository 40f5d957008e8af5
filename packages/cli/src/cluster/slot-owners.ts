/**
 * Which process owns each slot now, and the routed calls waiting for a slot
 * that has none (its worker is restarting, or its objects are moving to a
 * new worker). A slot is given to one process at a time, and only once the
 * previous owner released it or exited, so no object is ever hosted by two
 * processes. A waiting call is bounded: after `routeTimeoutMs` it fails with
 * `ERR_OBJECT_UNAVAILABLE` instead of waiting for good.
 */
import type { Clock, TimerHandle } from "@torpor/core";
import { SLOT_COUNT } from "@torpor/core/slots";
import type { ToWorker } from "./ipc.ts";

/** A routed call waiting for its slot's owner. */
export interface HeldCall {
  message: Extract<ToWorker, { t: "call" }>;
  timer: TimerHandle;
}

/** The owner table of one supervisor. */
export class SlotOwners<P> {
  readonly #owner: Array<P | null> = new Array(SLOT_COUNT).fill(null);
  readonly #held = new Map<number, HeldCall[]>();

  constructor(
    readonly clock: Clock,
    readonly routeTimeoutMs: number,
    /** A held call ran out of time (`waitedMs` after it arrived): answer it with an error. */
    readonly expired: (message: Extract<ToWorker, { t: "call" }>, slot: number) => void,
  ) {}

  /** The process owning `slot`, or null while it has none. */
  owner(slot: number): P | null {
    return this.#owner[slot] ?? null;
  }

  /** Every slot `process` owns. */
  ownedBy(process: P): number[] {
    const out: number[] = [];
    for (let s = 0; s < SLOT_COUNT; s++) if (this.#owner[s] === process) out.push(s);
    return out;
  }

  /** Gives free `slots` to `process`; returns the calls that waited for them, oldest first. */
  assign(slots: readonly number[], process: P): Array<Extract<ToWorker, { t: "call" }>> {
    const waited: Array<Extract<ToWorker, { t: "call" }>> = [];
    for (const slot of slots) {
      if (this.#owner[slot] !== null) throw new Error(`slot ${slot} is owned already; release it first`);
      this.#owner[slot] = process;
      for (const held of this.#held.get(slot) ?? []) {
        held.timer.cancel();
        waited.push(held.message);
      }
      this.#held.delete(slot);
    }
    return waited;
  }

  /** Takes `slots` from their owner: calls for them wait from now on. */
  unassign(slots: readonly number[]): void {
    for (const slot of slots) this.#owner[slot] = null;
  }

  /** Holds a call until its slot has an owner, or fails it after `routeTimeoutMs`. */
  hold(slot: number, message: Extract<ToWorker, { t: "call" }>): void {
    const list = this.#held.get(slot) ?? [];
    const held: HeldCall = {
      message,
      timer: this.clock.setTimeout(() => {
        const at = list.indexOf(held);
        if (at !== -1) list.splice(at, 1);
        if (list.length === 0 && this.#held.get(slot) === list) this.#held.delete(slot);
        this.expired(message, slot);
      }, this.routeTimeoutMs),
    };
    list.push(held);
    this.#held.set(slot, list);
  }

  /** Drops the waiting calls made by `caller` (it exited: nobody would read their replies, nor send their bodies). */
  dropFrom(caller: number): void {
    for (const [slot, list] of this.#held) {
      // In place: each held call's timer removes it from this very array.
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.message.from !== caller) continue;
        list[i]!.timer.cancel();
        list.splice(i, 1);
      }
      if (list.length === 0) this.#held.delete(slot);
    }
  }

  /** Calls waiting now (for metrics and tests). */
  get heldCount(): number {
    let n = 0;
    for (const list of this.#held.values()) n += list.length;
    return n;
  }

  /** Fails every waiting call at once (shutdown). */
  failAll(): void {
    for (const [slot, list] of this.#held) {
      for (const held of list) {
        held.timer.cancel();
        this.expired(held.message, slot);
      }
    }
    this.#held.clear();
  }
}
