/**
 * One process per data directory. Two servers writing the same object files
 * corrupt each other's view (the second one's objects answer "database is
 * locked", or both commit to the same object), so whoever serves a
 * directory holds this lock for as long as it runs.
 *
 * The lock is an OS file lock (SQLite's, on `<dir>/torpor.lock`, taken in
 * exclusive locking mode): the kernel drops it when the holder exits, even
 * on SIGKILL, so a lock left by a dead process is taken over with no
 * staleness guess and no pid-reuse confusion. The holder's pid goes to
 * `<dir>/torpor.pid` only so that the refusal can name it.
 *
 * A cluster's workers are processes of the same server: each holds a shared
 * lock on `<dir>/torpor.members.lock` for as long as it runs
 * (`joinDataDir`), and the lock is taken only when no process holds that one
 * either. So when a supervisor dies (SIGKILL, OOM) and its workers linger to
 * finish their work, the next server waits for them instead of opening the
 * same object files beside them (`lockDataDirWhenFree`).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { TorporError } from "@torpor/core/errors";
import { isBusy } from "./sqlite-busy.ts";

/** A held data-directory lock. */
export interface DataDirLock {
  /** The locked directory. */
  readonly dir: string;
  /** Lets the next process in (idempotent). The OS also releases it when this process exits. */
  release(): void;
  /**
   * Null while the lock still guards the directory, else why not: released,
   * or the lock file was removed or replaced (the directory was deleted or
   * swapped under the server, so the next process would not be kept out).
   */
  problem(): string | null;
}

/** A cluster worker's hold on the directory (`joinDataDir`): no new server takes it while this is held. */
export type DataDirMembership = Pick<DataDirLock, "dir" | "release">;

/** The files the lock uses inside the directory. */
export const LOCK_FILE = "torpor.lock";
export const PID_FILE = "torpor.pid";
export const MEMBERS_FILE = "torpor.members.lock";

/**
 * Takes the lock on a data directory (created if missing), or throws
 * `ERR_DATA_DIR_LOCKED` naming the process that holds it. Another lock on
 * the same directory in this process is refused too.
 *
 * @example
 * const lock = lockDataDir("./.torpor/state");
 * try { await serve(); } finally { lock.release(); }
 */
export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const lockFile = join(dir, LOCK_FILE);
  const db = new Database(lockFile, { timeout: 0 });
  try {
    // In exclusive mode SQLite keeps the lock it took until the connection closes.
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE; COMMIT");
  } catch (error) {
    db.close();
    if (!isBusy(error)) throw error;
    const holder = readHolder(dir);
    const alive = holder !== null && isAlive(holder);
    throw new TorporError(
      "ERR_DATA_DIR_LOCKED",
      `The data directory is locked by ${alive ? `pid ${holder}` : "another process"} (another torpor start?). Stop it, or give this server its own --persist-to (the directory: ${dir}).`,
    );
  }
  const members = membersStillRunning(dir);
  if (members !== null) {
    db.close();
    throw Object.assign(
      new TorporError(
        "ERR_DATA_DIR_LOCKED",
        `The data directory is still used by ${members.length > 0 ? `pids ${members.join(", ")}` : "other processes"}, workers of a server whose supervisor exited; they finish their work and exit by themselves. Wait for them, or stop them (the directory: ${dir}).`,
      ),
      { members },
    );
  }
  // Written after the lock is held, through a rename so a reader never sees half a pid.
  const pidFile = join(dir, PID_FILE);
  writeFileSync(`${pidFile}.${process.pid}`, `${process.pid}\n`);
  renameSync(`${pidFile}.${process.pid}`, pidFile);
  // The file the OS lock is on: if the path later names another file, nothing guards the directory.
  const inode = statSync(lockFile).ino;
  let held = true;
  return {
    dir,
    problem() {
      if (!held || !db.open) return "the data-directory lock was released";
      let now: number;
      try {
        now = statSync(lockFile).ino;
      } catch {
        return `the lock file ${lockFile} is gone (the data directory was removed under the server)`;
      }
      return now === inode ? null : `the lock file ${lockFile} was replaced (the data directory was swapped under the server)`;
    },
    release() {
      if (!held) return;
      held = false;
      if (readHolder(dir) === process.pid) rmSync(pidFile, { force: true });
      db.close();
    },
  };
}

/** The pid named in a data directory's pid file (the lock holder's, if the lock is held), or null. */
export function dataDirHolder(dir: string): number | null {
  return readHolder(dir);
}

function readHolder(dir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, PID_FILE), "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * `lockDataDir`, retried while only workers of a previous server (whose
 * supervisor exited) still use the directory, for up to `waitMs`; `onWait`
 * is called once, with the reason, when it has to wait. A directory held by a
 * running server is refused at once, as by `lockDataDir`.
 */
export async function lockDataDirWhenFree(dir: string, waitMs: number, onWait?: (reason: string) => void): Promise<DataDirLock> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    try {
      return lockDataDir(dir);
    } catch (error) {
      if ((error as { members?: unknown }).members === undefined || Date.now() + delay > deadline) throw error;
      if (!told) onWait?.((error as Error).message);
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/**
 * Marks this process as a member of the server that holds `dir` (a cluster
 * worker) until `release()` or its exit: no new server takes the directory
 * while a member runs. Take it before opening anything in the directory, and
 * keep the returned lock referenced: a collected connection releases it.
 */
export function joinDataDir(dir: string): DataDirMembership {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, MEMBERS_FILE), { timeout: 0 });
  // In exclusive locking mode the shared lock of the first read is kept until the connection closes.
  db.pragma("locking_mode = EXCLUSIVE");
  db.prepare("SELECT count(*) FROM sqlite_master").get();
  let held = true;
  return {
    dir,
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}

/** Null when no member holds the directory; else the pids holding it (empty when they cannot be told, off Linux). */
function membersStillRunning(dir: string): number[] | null {
  const probe = new Database(join(dir, MEMBERS_FILE), { timeout: 0 });
  try {
    probe.exec("BEGIN EXCLUSIVE; COMMIT");
    return null;
  } catch (error) {
    if (!isBusy(error)) throw error;
    return lockHolders(join(dir, MEMBERS_FILE));
  } finally {
    probe.close();
  }
}

/** The pids holding a POSIX lock on `file` (Linux's /proc/locks; empty elsewhere). */
function lockHolders(file: string): number[] {
  try {
    const inode = statSync(file).ino;
    const pids = new Set<number>();
    for (const line of readFileSync("/proc/locks", "utf8").split("\n")) {
      // "1: POSIX  ADVISORY  READ 4242 fe:00:2147486 1073741826 1073742335"
      const fields = line.trim().split(/\s+/);
      const where = fields[5]?.split(":");
      if (where?.length === 3 && Number(where[2]) === inode) pids.add(Number(fields[4]));
    }
    pids.delete(process.pid);
    return [...pids].sort((a, b) => a - b);
  } catch {
    return [];
  }
}
