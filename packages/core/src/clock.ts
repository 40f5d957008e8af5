/** A cancellable timer handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time as the runtime sees it. Every timer the runtime owns (idle
 * hibernation, alarms, alarm retries, event timeouts) goes through a clock,
 * so tests can swap in a virtual one and advance it instead of waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** The real clock: `Date.now()` and unref'd Node timers (they never keep a process alive). */
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
    arm(ms);
    return { cancel: () => clearTimeout(timer) };
  },
};
