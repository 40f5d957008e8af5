import Database from "better-sqlite3";
import type { SynchronousMode } from "./options.ts";
import { isBusy } from "./sqlite-busy.ts";

/** How long opening a shared database, or one of its statements, waits for another process's lock before failing. */
export const SHARED_BUSY_TIMEOUT_MS = 5_000;

/** What {@link openSharedWal} sets up on the connection. */
export interface SharedWalOptions {
  /** `PRAGMA synchronous` of the connection (`FULL`: an acknowledged write survives a power loss). */
  synchronous: SynchronousMode;
  /** How long opening retries in all, and the connection's busy timeout unless `busyTimeoutMs` says otherwise. Default {@link SHARED_BUSY_TIMEOUT_MS}. */
  timeoutMs?: number;
  /**
   * The busy timeout of the returned connection, when its statements should
   * wait less than the open may (a caller that waits for locks on timers
   * instead: SQLite's busy handler sleeps on the event loop's thread).
   */
  busyTimeoutMs?: number;
  /** Idempotent first statements (`CREATE TABLE IF NOT EXISTS ...`), retried with the open. */
  setup?: (db: Database.Database) => void;
}

// A one-slot buffer to block on: Atomics.wait is the only synchronous pause Node has.
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Opens a WAL-mode SQLite database that several processes use at once (the
 * alarm index of a cluster's data directory, KV namespaces, D1 databases, R2
 * indexes), runs `setup`, and returns the connection.
 *
 * Why a retry around the open: turning a new file to WAL takes an exclusive
 * lock, and when two processes create the same file at once, SQLite answers
 * one of them SQLITE_BUSY at once instead of calling its busy handler (waiting
 * could deadlock: each holds the shared lock the other must lose). That is
 * normal start-up of a cluster (every worker opens the alarm index), so the
 * open is retried, with a fresh connection each time, until `timeoutMs`
 * passes. The file stays in WAL mode once converted, so later opens never
 * race this way; later statements wait through the connection's busy timeout.
 */
export function openSharedWal(path: string, options: SharedWalOptions): Database.Database {
  const timeoutMs = options.timeoutMs ?? SHARED_BUSY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const db = new Database(path, { timeout: timeoutMs });
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous}`);
      options.setup?.(db);
      if (options.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
      return db;
    } catch (error) {
      db.close();
      if (!isBusy(error) || Date.now() >= deadline) throw error;
      // Short and growing: the other opener holds the lock for one header write.
      Atomics.wait(pause, 0, 0, Math.min(2 ** attempt, 50));
    }
  }
}
