import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { openSharedWal, SHARED_BUSY_TIMEOUT_MS } from "@torpor/storage-sqlite";
import { SYNC_BUSY_MS } from "./lock-wait.ts";

/** How long opening a shared database waits in all for another process creating it at the same time. */
export const BUSY_TIMEOUT_MS = SHARED_BUSY_TIMEOUT_MS;

/**
 * Opens a SQLite database that several processes of one cluster use at once
 * (KV namespaces, D1 databases, R2 bucket indexes live in one file each under
 * the data directory, and every worker opens it).
 *
 * - WAL: readers never wait for a writer, and one writer at a time is serialized
 *   by SQLite's file locks across processes.
 * - Waiting for a lock: the connection's busy timeout is only
 *   {@link SYNC_BUSY_MS}, because better-sqlite3 is synchronous and SQLite's
 *   busy handler sleeps on the event loop's thread. Every write goes through
 *   `whenUnlocked` (lock-wait.ts), which waits out a longer hold on timers.
 *   Writes that read first use `BEGIN IMMEDIATE` (better-sqlite3's
 *   `transaction().immediate`), so two processes never both hold a read lock
 *   and deadlock upgrading it.
 * - `synchronous = FULL`: a write the Worker saw succeed survives a crash of the
 *   process or the machine, as on Cloudflare.
 * - `setup`: the file's idempotent schema statements, run as part of the open,
 *   which is retried while several processes create the file at once
 *   (`openSharedWal`, for up to {@link BUSY_TIMEOUT_MS}).
 *
 * No user code runs inside a transaction here, so each is short.
 */
export function openSharedDatabase(path: string, setup?: (db: Database.Database) => void): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  return openSharedWal(path, { synchronous: "FULL", busyTimeoutMs: SYNC_BUSY_MS, setup });
}
