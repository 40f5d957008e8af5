/**
 * glibc malloc settings the supervisor gives the worker processes it forks.
 *
 * What a worker keeps after a burst of connections is mostly not V8's heap (the idle collector
 * gives that back) but memory freed to glibc's malloc: socket and parser buffers, libuv handles.
 * glibc keeps it in its arenas (one per thread that allocated, up to 8 per core) and returns it to
 * the system only from the top of an arena, and after big chunks are freed it raises its mmap
 * threshold, so later big buffers come from the arenas too. Fewer arenas and fixed thresholds
 * give more of it back (bench/RESULTS.md, "Memory comes back").
 *
 * glibc reads these variables once, when a process starts, so they can only reach processes the
 * CLI starts: the workers, not the supervisor the user started. Other C libraries (musl) ignore
 * them. A user who sets any of them (or glibc's malloc tunables) keeps their own settings.
 */

/** The settings, as environment variables (glibc's documented aliases of its malloc tunables). */
export const WORKER_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
};

/** The variables to add to a worker's environment: none if `env` already chooses malloc settings. */
export function workerMallocEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const chosen = Object.keys(env).some((name) => name.startsWith("MALLOC_")) || /glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? "");
  if (chosen) return {};
  return { ...WORKER_MALLOC_ENV };
}
