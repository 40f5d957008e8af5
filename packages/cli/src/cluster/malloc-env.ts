/**
 * glibc malloc settings the supervisor gives the worker processes it forks (bench/RESULTS.md, "Memory
 * comes back", session memory-6). glibc reads them once, when a process starts, so they reach only
 * the processes the CLI forks: the supervisor runs with the environment the user gave it.
 *
 * Two arenas instead of one per V8 helper thread: what the idle collector's `malloc_trim` (native-memory.ts)
 * cannot give back is pages still partly used, and each thread arena keeps its own (after a flood 5-9 MiB of
 * thread arenas per worker with glibc's default, 1.7 MiB with two; idle workers 70.1 MB trimmed, 67-68 with
 * both). Alone, without the trim, it only moves that memory into the main arena. No CPU cost measured
 * (`pnpm bench events` against main: 0.985x).
 *
 * A setting the user chose wins: its own variable set (even to ""), or the same tunable in
 * `GLIBC_TUNABLES`.
 */

/** Variables added to a worker's environment, with the `GLIBC_TUNABLES` name each is an alias of. */
export const WORKER_MALLOC_ENV: Readonly<Record<string, { value: string; tunable: string }>> = {
  MALLOC_ARENA_MAX: { value: "2", tunable: "glibc.malloc.arena_max" },
};

/** `env` plus every WORKER_MALLOC_ENV setting the user did not choose (in `env` itself or in its GLIBC_TUNABLES). */
export function withMallocEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const tunables = (env.GLIBC_TUNABLES ?? "").split(":").map((setting) => setting.split("=")[0]);
  const added: Record<string, string> = {};
  for (const [name, { value, tunable }] of Object.entries(WORKER_MALLOC_ENV)) {
    if (env[name] === undefined && !tunables.includes(tunable)) added[name] = value;
  }
  return { ...env, ...added };
}
