import { outsideOwners } from "./owner-context.ts";

/** A cancellable timer handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time as the runtime sees it. Every timer the runtime owns (idle
 * hibernation, alarms, alarm retries, event timeouts) goes through a clock,
 * so tests can swap in a virtual one and advance it instead of waiting.
 * These timers belong to the runtime, never to the object whose event armed
 * them: a clock that uses the global timer functions arms them outside
 * object code's async context (`outsideOwners`), or object/object-timers.ts
 * would count them as the object's and cancel them with its instance.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/**
 * The real clock: `Date.now()` and unref'd Node timers (they never keep a
 * process alive), armed outside any object's context: the alarm scheduler
 * arms its timer while the batch that set the alarm commits, inside that
 * object's event, and the timer must outlive the instance (an alarm wakes a
 * hibernated object). Its callback runs outside object code too.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Node caps timers at 2^31-1 ms; longer delays re-arm in steps.
    const max = 2_147_483_647;
    let timer: NodeJS.Timeout;
    const arm = (remaining: number) => {
      timer = setTimeout(remaining > max ? () => arm(remaining - max) : fn, Math.min(Math.max(remaining, 0), max));
      timer.unref();
    };
    outsideOwners(() => arm(ms));
    return { cancel: () => clearTimeout(timer) };
  },
};
