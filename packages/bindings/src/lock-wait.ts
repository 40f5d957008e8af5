import { setTimeout as sleep } from "node:timers/promises";
import { isBusy } from "@torpor/storage-sqlite";

/**
 * How long a write to a shared database (KV, D1, an R2 index, the Cache) waits
 * in all for another process's write lock before it fails with SQLITE_BUSY:
 * D1's own limit on a query's time, so a wait never outlasts what a Worker
 * could be kept waiting on Cloudflare.
 */
export const LOCK_WAIT_MS = 30_000;

/**
 * How long SQLite's own busy handler may block the event loop on one attempt.
 * Another process's write is usually one short statement and an fsync, so
 * most contention ends inside it; a longer hold (a large D1 batch, a process
 * descheduled or stopped while it holds the lock) is waited out on timers.
 */
export const SYNC_BUSY_MS = 20;

/** What {@link whenUnlocked} waits with; tests give their own clock and sleep. */
export interface LockWaitOptions {
  waitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Runs `attempt` (a whole write: one statement or one `BEGIN IMMEDIATE`
 * transaction, run synchronously so nothing else on the connection can come
 * between its statements) and, while another process holds the database's
 * write lock, runs it again after a short pause on a timer, until `waitMs`
 * passes.
 *
 * Why not SQLite's busy timeout alone: better-sqlite3 is synchronous, so its
 * busy handler sleeps on the event loop's thread. With a 5 s timeout, one
 * process holding a KV or D1 file's lock froze every object of every other
 * worker that wrote to it, and then failed the write anyway. Retrying here
 * keeps the worker answering its other objects while one write waits.
 *
 * An attempt that fails with SQLITE_BUSY changed nothing (the lock is taken
 * before the first change of an autocommit statement or at BEGIN IMMEDIATE),
 * so running it again is safe.
 */
export async function whenUnlocked<T>(attempt: () => T, options: LockWaitOptions = {}): Promise<T> {
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  const deadline = now() + (options.waitMs ?? LOCK_WAIT_MS);
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      return attempt();
    } catch (error) {
      if (!isBusy(error) || now() >= deadline) throw error;
    }
    // Jittered, so the processes waiting on one lock do not retry in step.
    await wait(pause * (0.5 + Math.random()));
  }
}

/**
 * Runs a clean-up write (deleting expired entries seen by a read) only if the
 * lock is free: the read's answer does not depend on it, and a later read or
 * write does it again, so it never makes a read wait for another process.
 */
export function ifUnlocked(cleanUp: () => void): void {
  try {
    cleanUp();
  } catch (error) {
    if (!isBusy(error)) throw error;
  }
}
