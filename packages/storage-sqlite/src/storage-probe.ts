/**
 * Whether storage works right now, for readiness checks: a scratch database
 * is created, written and removed in the data directory (this catches a
 * full disk, lost permissions, a read-only remount and running out of file
 * descriptors, each of which would fail the next object that opens), and
 * the alarm index answers a query.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { AlarmIndex } from "./alarm-index.ts";

/** Null when storage works, else why not (one sentence naming the directory). */
export function probeStorage(dir: string, index: AlarmIndex): string | null {
  // Outside every namespace folder, so listings and backups never see it; the pid keeps workers apart.
  const file = join(dir, `.probe-${process.pid}.sqlite`);
  try {
    const db = new Database(file);
    try {
      db.exec("CREATE TABLE IF NOT EXISTS probe (x); INSERT INTO probe VALUES (1)");
    } finally {
      db.close();
    }
  } catch (error) {
    return `storage cannot create a database in ${dir}: ${(error as Error).message}`;
  } finally {
    removeQuietly(file);
    removeQuietly(`${file}-journal`);
  }
  try {
    index.check();
  } catch (error) {
    return `the alarm index in ${dir} does not answer: ${(error as Error).message}`;
  }
  return null;
}

/** A scratch file that could not be made cannot be removed either (ENOTDIR, EACCES): the failure was reported above. */
function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {}
}
