import type { Clock, TimerHandle } from "./clock.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. Pass it as the runtime's `clock`
 * and call `advance(ms)` to fire idle-hibernation timers, alarms, alarm
 * retries and event timeouts deterministically, without waiting.
 *
 * @example
 * const clock = new VirtualClock();
 * const runtime = new Runtime({ objects, clock, hibernateAfterMs: 10_000 });
 * await clock.advance(10_000); // idle objects hibernate now
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  /**
   * @param start where time begins (ms since epoch). By default the real
   * current time, so times that object code computes from `Date.now()`
   * (`setAlarm(Date.now() + 60_000)`) line up with the virtual clock.
   */
  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** The time of the next pending timer, or null. */
  nextTimerAt(): number | null {
    const next = this.#nextDue(Infinity);
    return next?.at ?? null;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. After each one it
   * lets the event loop turn, so work the timer started (events, commits)
   * runs before the next timer fires.
   */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + ms);
  }

  /** Moves time forward to `time` (ms since epoch). */
  async advanceTo(time: number): Promise<void> {
    for (;;) {
      await settle();
      const next = this.#nextDue(time);
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = Math.max(this.#now, time);
    await settle();
  }

  #nextDue(limit: number): Timer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: Timer | undefined;
    for (const t of this.#timers) {
      if (t.at <= limit && (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    return best;
  }
}

/** Lets pending microtasks and immediates (gate pumps, commits) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
