/**
 * An online backup of a data directory's objects: every object database
 * under `<dir>/<namespace>/` is copied to the same place under `dest`, each
 * at a batch boundary of its own (object-snapshot.ts), while the objects
 * keep serving. The alarm index is copied too (`backupAlarmIndex`); a
 * restore rebuilds it from the objects' own alarms, which are the truth.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import Database from "better-sqlite3";
import { TorporError } from "@torpor/core";
import type { ObjectKey } from "@torpor/core/storage";
import { ObjectDatabase } from "./object-database.ts";
import type { SynchronousMode } from "./options.ts";
import { snapshotAtBatchBoundary } from "./object-snapshot.ts";

/** What a backup copied. */
export interface BackupReport {
  objects: number;
  bytes: number;
}

/** Options of a directory backup. */
export interface BackupOptions {
  /** Copies only the objects this says yes to (a cluster worker copies the objects it owns). */
  only?: (key: ObjectKey) => boolean;
  /** How long one object may keep a write batch open before the backup fails. Default 30 s. */
  batchWaitMs?: number;
}

const FILE = /^([0-9a-f]{64})\.sqlite$/;

/** What the backup needs from the provider: the open database of an object file, if it has one. */
export interface OpenDatabases {
  /** The connection the provider has open on `file`, or null if it has none. */
  openOn(file: string): ObjectDatabase | null;
  synchronous: SynchronousMode;
}

/** Copies every object database of `dir` into `dest`. */
export async function backupObjects(dir: string, dest: string, open: OpenDatabases, options: BackupOptions = {}): Promise<BackupReport> {
  const batchWaitMs = options.batchWaitMs ?? 30_000;
  let objects = 0;
  let bytes = 0;
  for (const folder of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    if (!folder.isDirectory()) continue;
    const namespace = decodeURIComponent(folder.name);
    for (const name of readdirSync(join(dir, folder.name))) {
      const id = FILE.exec(name)?.[1];
      if (id === undefined || (options.only !== undefined && !options.only({ namespace, id }))) continue;
      mkdirSync(join(dest, folder.name), { recursive: true });
      const target = join(dest, folder.name, name);
      if (!(await copyObject(join(dir, folder.name, name), target, open, batchWaitMs, `${namespace}/${id}`))) continue;
      objects++;
      bytes += statSync(target).size;
    }
  }
  return { objects, bytes };
}

/** Copies one object file, waiting turn by turn for a batch boundary if its database is open with a batch in it; false if the file went away. */
async function copyObject(file: string, target: string, open: OpenDatabases, batchWaitMs: number, label: string): Promise<boolean> {
  const deadline = performance.now() + batchWaitMs;
  for (;;) {
    // Checked and copied in one synchronous stretch: no event can open a batch in between.
    const odb = open.openOn(file);
    if (odb !== null) {
      if (snapshotAtBatchBoundary(odb, target)) return true;
    } else if (existsSync(file)) {
      // Not open in this process: open it only for the copy (its owner is this process, which is not running it now).
      const temporary = new ObjectDatabase(file, open.synchronous);
      try {
        if (snapshotAtBatchBoundary(temporary, target)) return true;
      } finally {
        temporary.close();
      }
    } else {
      return false; // Removed meanwhile (by an operator: the runtime never deletes object files).
    }
    if (performance.now() > deadline)
      throw new TorporError("ERR_BACKUP_FAILED", `Object ${label} kept a write batch open for ${batchWaitMs} ms, so no consistent copy of it could be made.`);
    await nextTurn();
  }
}

/** Copies the alarm index of `dir` to `dest` (through its own connection: the index is shared by a cluster's workers). */
export function backupAlarmIndex(dir: string, dest: string): void {
  const file = join(dir, "_alarms.sqlite");
  if (!existsSync(file)) return;
  const db = new Database(file);
  try {
    db.prepare("VACUUM INTO ?").run(dest);
  } finally {
    db.close();
  }
}
