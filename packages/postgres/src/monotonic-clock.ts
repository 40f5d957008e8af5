/**
 * Deadlines that wall-clock jumps cannot move. `process.hrtime` reads
 * CLOCK_MONOTONIC, which on Linux is one clock for every process of the
 * machine, so a deadline computed by the supervisor means the same instant in
 * its workers.
 */
import { systemClock, type Clock } from "@torpor/core/clock";

/** Milliseconds on the machine's monotonic clock. */
export function monotonicNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A {@link Clock} whose `now()` is {@link monotonicNow} (tests pass a `VirtualClock` instead). */
export const monotonicClock: Clock = { now: monotonicNow, setTimeout: systemClock.setTimeout };
