/**
 * V8 flags the supervisor gives the worker processes it forks (bench/RESULTS.md, "Where the kept memory
 * is" and "Workers with --optimize-for-size").
 *
 * What a worker keeps after a flood of connections is glibc's main arena, grown while V8's young
 * generation (16 MiB semi-spaces at its default maximum) held the flood's Buffers alive until the
 * next scavenge, and fragmented once they were freed. A small young generation frees them as it
 * goes: with `--optimize-for-size` a worker's brk heap stayed at 6.6 MiB after a 5,000-connection
 * flood instead of 14.5–16.9 MiB, and after the 15,000 of `pnpm bench memory` each worker kept 7–11 MiB
 * instead of 42–48. Echo CPU per message showed no cost in 11 rounds paired with the default, same runs
 * (mean difference −0.4 µs on ~50, rounds varying ±30 % on the shared machine).
 *
 * Flags reach only the processes the CLI forks (the supervisor runs with the flags the user gave
 * `node`). A user who sets young-generation flags keeps their own.
 */

/** The flags added to a worker's `execArgv`. */
export const WORKER_V8_FLAGS: readonly string[] = ["--optimize-for-size"];

const YOUNG_GENERATION_FLAG = /^--(optimize[-_]for[-_]size|max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/;

/** A worker's `execArgv`: the supervisor's own (what `fork` passes by default), plus WORKER_V8_FLAGS unless the user chose young-generation flags (on the command line or in NODE_OPTIONS). */
export function workerExecArgv(execArgv: readonly string[], nodeOptions = process.env.NODE_OPTIONS ?? ""): string[] {
  const chosen = [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => YOUNG_GENERATION_FLAG.test(flag));
  return chosen ? [...execArgv] : [...execArgv, ...WORKER_V8_FLAGS];
}
