/**
 * Which way this process's routed calls to each slot go: straight to the
 * process that owns it (a direct channel, worker-channels.ts) or through the
 * supervisor (`VIA_SUPERVISOR`), which knows the owner now or holds the call
 * while the slot has none.
 *
 * The owner is learned from the replies the supervisor relays (the process
 * that answered owned the slot then) and forgotten when that process refuses
 * a call (`not-here`: it gave the slot up) or goes away. A stale owner costs
 * one refusal, never a wrong owner: a process runs a direct call only for a
 * slot it owns when the call arrives.
 *
 * Calls to one slot keep their order: they use one path at a time. A new call
 * takes the path of the slot's calls still in flight; only once none is does
 * the slot change path. Calls refused by a former owner wait (in order) until
 * every call sent there came back, then go again, before any newer call.
 */

/** The supervisor's path (serials of processes start at 1). */
export const VIA_SUPERVISOR = 0;

interface SlotState<T> {
  via: number;
  count: number;
  /** Refused calls to send again once `count` is 0, oldest first. */
  again: T[];
}

export class CallPaths<T> {
  readonly #owner = new Map<number, number>();
  readonly #slots = new Map<number, SlotState<T>>();

  /** The path for a new call to `slot` (counted in flight until `done` or `refused`): `usable(serial)` says whether a channel to it takes new calls. */
  open(slot: number, usable: (serial: number) => boolean): number {
    const state = this.#slots.get(slot);
    if (state !== undefined && (state.count > 0 || state.again.length > 0)) {
      state.count++;
      return state.via;
    }
    const owner = this.#owner.get(slot);
    const via = owner !== undefined && usable(owner) ? owner : VIA_SUPERVISOR;
    this.#slots.set(slot, { via, count: 1, again: [] });
    return via;
  }

  /** A call to `slot` sent on `via` ended (answered or failed); returns the refused calls to send again now, oldest first. */
  done(slot: number, via: number): T[] {
    const state = this.#slots.get(slot);
    if (state === undefined || state.via !== via) return [];
    state.count--;
    if (state.count > 0) return [];
    this.#slots.delete(slot);
    return state.again;
  }

  /** Process `via` refused a call to `slot` (it does not own it): it is forgotten as the owner; `call` goes again after the slot's calls sent there. */
  refused(slot: number, via: number, call: T): T[] {
    if (this.#owner.get(slot) === via) this.#owner.delete(slot);
    const state = this.#slots.get(slot);
    if (state === undefined || state.via !== via) return [call];
    state.again.push(call);
    return this.done(slot, via);
  }

  /** Process `serial` answered a call to `slot` relayed by the supervisor: it owned the slot then. */
  learn(slot: number, serial: number): void {
    if (serial > VIA_SUPERVISOR) this.#owner.set(slot, serial);
  }

  /** Process `serial` is gone (or its channel is): it owns nothing any more. */
  forget(serial: number): void {
    for (const [slot, owner] of this.#owner) if (owner === serial) this.#owner.delete(slot);
  }
}
