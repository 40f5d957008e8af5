/**
 * `torpor backup --out FILE` and `torpor restore FILE`.
 *
 * Backup works on a running server (online: the server copies its objects
 * while serving, see backup-requests.ts) or on a directory nobody serves
 * (offline: this process takes the lock and copies). Either way every
 * object is copied at a batch boundary of its own, so no copy holds half a
 * batch, and every write acknowledged before the backup began is in it.
 *
 * Restore unpacks into a data directory nobody uses (it takes the lock, so a
 * running server's directory is refused) and that holds no objects yet,
 * checks every object database, and rebuilds the alarm index from the
 * objects, so their alarms are armed when a server starts there.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TorporError } from "@torpor/core";
import { dataDirHolder, lockDataDir, rebuildAlarmIndex, sqliteStorage, type BackupReport, type DataDirLock } from "@torpor/storage-sqlite";
import type { CliArgs } from "../args.ts";
import { CliError } from "../errors.ts";
import { serveSettings } from "../serve-settings.ts";
import { readArchive, writeArchive } from "./backup-archive.ts";
import { backupsDir, copyBackup, readResult, writeRequest } from "./backup-requests.ts";

/** How long `torpor backup` waits for a running server's copy. */
const SERVER_WAIT_MS = 30 * 60_000;
const MANIFEST = "torpor-backup.json";
const FORMAT = 1;

/** `torpor backup`: writes a consistent copy of the data directory to `--out`. */
export async function runBackup(args: CliArgs): Promise<void> {
  if (args.out === undefined) throw new CliError("ERR_CLI_USAGE", "torpor backup needs --out <file>: where to write the backup.");
  const { persistTo } = serveSettings(args, process.cwd());
  const out = resolve(process.cwd(), args.out);
  if (!existsSync(persistTo))
    throw new CliError("ERR_CLI_USAGE", `No data directory at ${persistTo}; pass the server's --persist-to (or run where its config is).`);
  const nonce = `${Date.now()}-${process.pid}`;
  const stage = join(backupsDir(persistTo), nonce);
  const started = Date.now();
  let report: BackupReport;
  let mode: "online" | "offline";
  try {
    const lock = tryLock(persistTo);
    if (lock !== null) {
      mode = "offline";
      try {
        const storage = sqliteStorage({ dir: join(persistTo, "do") });
        try {
          report = await copyBackup(persistTo, stage, (dest) => storage.backup(dest));
        } finally {
          storage.close();
        }
      } finally {
        lock.release();
      }
    } else {
      mode = "online";
      report = await askServer(persistTo, nonce);
    }
    writeFileSync(
      join(stage, MANIFEST),
      `${JSON.stringify({ format: FORMAT, createdAt: new Date(started).toISOString(), source: persistTo, mode, objects: report.objects, bytes: report.bytes }, null, 2)}\n`,
    );
    await writeArchive(stage, `${out}.partial`);
    renameSync(`${out}.partial`, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
    rmSync(join(backupsDir(persistTo), `${nonce}.result.json`), { force: true });
    rmSync(`${out}.partial`, { force: true });
  }
  process.stdout.write(`Backed up ${report.objects} objects (${report.bytes} bytes, ${mode}) to ${out}\n`);
}

function tryLock(persistTo: string): DataDirLock | null {
  try {
    return lockDataDir(persistTo);
  } catch (error) {
    if (error instanceof TorporError && error.code === "ERR_DATA_DIR_LOCKED") return null;
    throw error;
  }
}

async function askServer(persistTo: string, nonce: string): Promise<BackupReport> {
  const pid = dataDirHolder(persistTo);
  if (pid === null) throw new CliError("ERR_BACKUP_FAILED", `${persistTo} is locked, but no ${join(persistTo, "torpor.pid")} names the server holding it.`);
  writeRequest(persistTo, nonce);
  try {
    process.kill(pid, "SIGUSR2");
  } catch (cause) {
    rmSync(join(backupsDir(persistTo), `${nonce}.request.json`), { force: true });
    throw new CliError("ERR_BACKUP_FAILED", `Cannot signal the server holding ${persistTo} (pid ${pid}): ${(cause as Error).message}.`, { cause });
  }
  const deadline = Date.now() + SERVER_WAIT_MS;
  for (;;) {
    const result = readResult(persistTo, nonce);
    if (result !== null) {
      if (!result.ok) throw new CliError("ERR_BACKUP_FAILED", `The server (pid ${pid}) could not make the backup: ${result.error}`);
      return { objects: result.objects, bytes: result.bytes };
    }
    if (Date.now() > deadline)
      throw new CliError("ERR_BACKUP_FAILED", `The server (pid ${pid}) did not finish the backup within ${SERVER_WAIT_MS / 60_000} minutes; see its log.`);
    await sleep(100);
  }
}

/** `torpor restore FILE`: unpacks a backup into an unused, empty data directory. */
export async function runRestore(args: CliArgs): Promise<void> {
  if (args.entry === undefined) throw new CliError("ERR_CLI_USAGE", "torpor restore needs the backup file: torpor restore <file> --persist-to <dir>.");
  const file = resolve(process.cwd(), args.entry);
  if (!existsSync(file)) throw new CliError("ERR_CLI_USAGE", `No backup file at ${file}.`);
  const { persistTo } = serveSettings(args, process.cwd());
  let lock: DataDirLock;
  try {
    lock = lockDataDir(persistTo);
  } catch (error) {
    if (error instanceof TorporError && error.code === "ERR_DATA_DIR_LOCKED")
      throw new TorporError("ERR_DATA_DIR_LOCKED", `Refusing to restore into a data directory in use: ${error.message}`);
    throw error;
  }
  const stage = join(persistTo, `restoring-${process.pid}`);
  try {
    const target = join(persistTo, "do");
    if (holdsObjects(target))
      throw new CliError(
        "ERR_RESTORE_TARGET_NOT_EMPTY",
        `${target} already holds objects; restore into an empty --persist-to, or move that folder away first (nothing was changed).`,
      );
    rmSync(stage, { recursive: true, force: true });
    readArchive(file, stage);
    const manifest = readManifest(stage, file);
    const restored = rebuildAlarmIndex(join(stage, "do"));
    rmSync(target, { recursive: true, force: true });
    renameSync(join(stage, "do"), target);
    process.stdout.write(
      `Restored ${restored.objects} objects (${restored.alarms} alarms armed) from ${file} (made ${manifest.createdAt}) into ${persistTo}\n`,
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
    lock.release();
  }
}

/** Whether a `do/` folder has any object database or alarm index in it. */
function holdsObjects(dir: string): boolean {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.startsWith("_alarms.sqlite")) return true;
    if (entry.isDirectory() && readdirSync(join(dir, entry.name)).some((f) => f.endsWith(".sqlite"))) return true;
  }
  return false;
}

function readManifest(stage: string, file: string): { createdAt: string } {
  const path = join(stage, MANIFEST);
  if (!existsSync(path)) throw new CliError("ERR_BACKUP_ARCHIVE", `${file} is not a usable Torpor backup: it has no ${MANIFEST}.`);
  const manifest = JSON.parse(readFileSync(path, "utf8")) as { format?: unknown; createdAt: string };
  if (manifest.format !== FORMAT)
    throw new CliError("ERR_BACKUP_ARCHIVE", `${file} is a backup of format ${String(manifest.format)}; this torpor reads format ${FORMAT}.`);
  return manifest;
}
