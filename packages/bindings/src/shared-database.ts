import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { openSharedWal } from "@torpor/storage-sqlite";

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens a SQLite database that several processes of one cluster use at once
 * (KV namespaces, D1 databases, R2 bucket indexes live in one file each under
 * the data directory, and every worker opens it).
 *
 * - WAL: readers never wait for a writer, and one writer at a time is serialized
 *   by SQLite's file locks across processes.
 * - `busy_timeout`: a writer that finds the lock held retries for up to
 *   {@link BUSY_TIMEOUT_MS} instead of failing at once. Writes that read first
 *   use `BEGIN IMMEDIATE` (better-sqlite3's `transaction().immediate`), so two
 *   processes never both hold a read lock and deadlock upgrading it.
 * - `synchronous = FULL`: a write the Worker saw succeed survives a crash of the
 *   process or the machine, as on Cloudflare.
 * - `setup`: the file's idempotent schema statements, run as part of the open,
 *   which is retried while several processes create the file at once
 *   (`openSharedWal`).
 *
 * better-sqlite3 is synchronous: waiting for another process's lock blocks this
 * process's event loop for that time, so every transaction here is short
 * (no user code runs inside one).
 */
export function openSharedDatabase(path: string, setup?: (db: Database.Database) => void): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  return openSharedWal(path, { synchronous: "FULL", timeoutMs: BUSY_TIMEOUT_MS, setup });
}
