/**
 * Every wait in a cluster is bounded; these are the bounds, their defaults,
 * and the backoff between restarts of a worker that keeps failing. What a
 * client or the log sees when each one expires is in docs/errors.md.
 */

/** The bounds of a cluster's waits, in ms. */
export interface ClusterTimeouts {
  /** A worker must report ready (its Worker code loaded) within this; then it is killed (`ERR_WORKER_START_TIMEOUT`). */
  startTimeoutMs: number;
  /** A reload waits this long for a worker's objects to move out (running events to finish, sockets to drain); then the old process is stopped (`ERR_MOVE_TIMEOUT`). */
  moveTimeoutMs: number;
  /** A routed call waits this long for its object's worker (restarting, or taking the object over); then it fails with `ERR_OBJECT_UNAVAILABLE`. */
  routeTimeoutMs: number;
  /** A worker told to stop (shutdown, or drained after a reload) finishes its in-flight requests within this; then it is killed (`ERR_STOP_TIMEOUT`). */
  stopTimeoutMs: number;
  /** A worker must answer an admin request (metrics, objects, hibernate) within this (`ERR_WORKER_UNRESPONSIVE`). */
  adminTimeoutMs: number;
  /** A starting server waits this long for processes of a previous one still using the data directory (`ERR_DATA_DIR_LOCKED`). */
  lockWaitMs: number;
}

/** The defaults. */
export const DEFAULT_CLUSTER_TIMEOUTS: ClusterTimeouts = {
  startTimeoutMs: 60_000,
  moveTimeoutMs: 30_000,
  routeTimeoutMs: 30_000,
  stopTimeoutMs: 30_000,
  adminTimeoutMs: 5_000,
  lockWaitMs: 60_000,
};

/**
 * How long a worker whose supervisor went away takes at most to finish and
 * exit (a new server waits for it before it opens the data directory).
 */
export const ORPHAN_EXIT_MS = 10_000;

/** A worker that stayed up this long is healthy again: its next crash restarts it at once. */
export const RESTART_STABLE_MS = 30_000;

/** The delay before restart attempt `attempt` (1-based) of a worker: at once, then 250 ms doubling up to 30 s. */
export function restartDelay(attempt: number): number {
  if (attempt <= 1) return 0;
  return Math.min(30_000, 250 * 2 ** (attempt - 2));
}
