/**
 * How `torpor backup` asks a running server for a copy: the server holding
 * the data directory's lock (one process, or a cluster's supervisor) is the
 * only one that may open its objects, so the command writes a request file
 * under `<persist-to>/backups/` and sends SIGUSR2 to the holder (its pid is
 * in `torpor.pid`, as for `torpor reload`). The server copies every object
 * into `backups/<nonce>/do/` while it keeps serving, copies the alarm index,
 * and writes `<nonce>.result.json`, which the command waits for.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@torpor/core";
import type { BackupReport } from "@torpor/storage-sqlite";

/** The folder of backup requests and their copies, inside the data directory. */
export function backupsDir(persistTo: string): string {
  return join(persistTo, "backups");
}

/** The outcome a server writes for one request. */
export type BackupResult = ({ ok: true } & BackupReport) | { ok: false; error: string };

/**
 * Serves backup requests on SIGUSR2 until the returned function is called.
 * `copyObjects(dest)` copies every object database into `dest` (the `do/`
 * folder of the copy); requests run one at a time.
 */
export function serveBackupRequests(persistTo: string, logger: Logger, copyObjects: (dest: string) => Promise<BackupReport>): () => void {
  let queue: Promise<void> = Promise.resolve();
  const onSignal = () => {
    queue = queue.then(() => runPending(persistTo, logger, copyObjects));
  };
  process.on("SIGUSR2", onSignal);
  return () => process.off("SIGUSR2", onSignal);
}

async function runPending(persistTo: string, logger: Logger, copyObjects: (dest: string) => Promise<BackupReport>): Promise<void> {
  const dir = backupsDir(persistTo);
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir)) {
    const nonce = /^([A-Za-z0-9-]+)\.request\.json$/.exec(file)?.[1];
    if (nonce === undefined) continue;
    rmSync(join(dir, file), { force: true });
    const started = performance.now();
    logger.info("Backup: copying every object while serving", { nonce });
    let result: BackupResult;
    try {
      const report = await copyBackup(persistTo, join(dir, nonce), copyObjects);
      result = { ok: true, ...report };
      logger.info("Backup copied", { nonce, ...report, durationMs: Math.round(performance.now() - started) });
    } catch (error) {
      logger.error("Backup failed", { nonce, error });
      result = { ok: false, error: (error as Error)?.message ?? String(error) };
    }
    writeResult(dir, nonce, result);
  }
}

/** Copies the objects, then the alarm index, into `stage/do` (what the server and an offline backup both do). */
export async function copyBackup(persistTo: string, stage: string, copyObjects: (dest: string) => Promise<BackupReport>): Promise<BackupReport> {
  const dest = join(stage, "do");
  mkdirSync(dest, { recursive: true });
  const report = await copyObjects(dest);
  // Loaded on the first backup: a supervisor that is never asked for one does not load the storage package.
  const { backupAlarmIndex } = await import("@torpor/storage-sqlite");
  backupAlarmIndex(join(persistTo, "do"), join(dest, "_alarms.sqlite"));
  return report;
}

function writeResult(dir: string, nonce: string, result: BackupResult): void {
  const file = join(dir, `${nonce}.result.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Reads a request's result, or null while there is none. */
export function readResult(persistTo: string, nonce: string): BackupResult | null {
  const file = join(backupsDir(persistTo), `${nonce}.result.json`);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, "utf8")) as BackupResult;
}

/** Files a request for the server to find on SIGUSR2. */
export function writeRequest(persistTo: string, nonce: string): void {
  const dir = backupsDir(persistTo);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${nonce}.request.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ nonce, pid: process.pid, at: Date.now() })}\n`);
  renameSync(`${file}.tmp`, file);
}
