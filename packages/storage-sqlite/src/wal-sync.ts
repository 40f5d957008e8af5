/**
 * Makes commits durable by fsyncing WAL files, so that many objects' commits
 * share the cost. With `synchronous: "FULL"` the object databases run at
 * SQLite's NORMAL (a commit writes its WAL frames but does not fsync) and the
 * provider fsyncs the WAL file itself before the commit counts as done:
 * synchronously for `commit()`, or on libuv's thread pool for
 * `commitAsync()`, where the fsyncs of every object that committed in the
 * same turn run in parallel and the file system can fold them into one
 * journal flush. An acknowledgement still waits for its own file's fsync.
 *
 * The first sync after a database is opened also fsyncs its directory: the
 * WAL file was created by that open (SQLite does the same under FULL).
 */
import { close, closeSync, fsync, fsyncSync, open, openSync, constants } from "node:fs";
import { dirname } from "node:path";

interface Round {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
  dir: boolean;
}

/** The fsync queue of one WAL file: at most one round running and one waiting (which later callers join). */
export class WalFile {
  readonly #wal: string;
  readonly #dir: string;
  /** The directory entry of the WAL (and of a new database) is not yet known durable. */
  #dirDirty = true;
  #running: Round | null = null;
  #waiting: Round | null = null;

  constructor(database: string) {
    this.#wal = `${database}-wal`;
    this.#dir = dirname(database);
  }

  /** The database was (re)opened: its WAL file is new. */
  reopened(): void {
    this.#dirDirty = true;
  }

  /** Fsyncs the WAL now, on this thread. */
  syncNow(): void {
    fsyncPath(this.#wal);
    if (this.#dirDirty) {
      fsyncPath(this.#dir);
      this.#dirDirty = false;
    }
  }

  /**
   * Resolves once everything written to the WAL before this call is on disk.
   * A round already running may have started before those writes, so a new
   * one follows it; callers in the meantime share that next round.
   */
  sync(): Promise<void> {
    if (this.#waiting !== null) return this.#waiting.promise;
    const round = newRound(this.#dirDirty);
    this.#dirDirty = false;
    if (this.#running === null) this.#start(round);
    else this.#waiting = round;
    return round.promise;
  }

  #start(round: Round): void {
    this.#running = round;
    const run = () =>
      fsyncPathAsync(this.#wal, (error) => {
        if (error === null && round.dir) fsyncPathAsync(this.#dir, (e) => this.#finish(round, e));
        else this.#finish(round, error);
      });
    if (fsyncFault === null) run();
    else fsyncFault(this.#wal).then(run, (error: NodeJS.ErrnoException) => this.#finish(round, error));
  }

  #finish(round: Round, error: NodeJS.ErrnoException | null): void {
    this.#running = null;
    if (error !== null && round.dir) this.#dirDirty = true;
    if (error === null) round.resolve();
    else round.reject(error);
    const next = this.#waiting;
    if (next !== null) {
      this.#waiting = null;
      this.#start(next);
    }
  }
}

/** See {@link injectFsyncFault}. */
let fsyncFault: ((wal: string) => Promise<void>) | null = null;

/**
 * Test-only fault injection in the fsync path of `commitAsync()`: `hook`
 * runs before each fsync round of a WAL file; the round's fsync runs when its
 * promise resolves (a slow fsync), or fails with its rejection instead of
 * running (a failed fsync, as EIO from the kernel would make it). `null`
 * removes it. Not exported from the package: tests import this module.
 */
export function injectFsyncFault(hook: ((wal: string) => Promise<void>) | null): void {
  fsyncFault = hook;
}

function newRound(dir: boolean): Round {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject, dir };
}

/**
 * A WAL that no longer exists was checkpointed into the database and deleted
 * by SQLite when it closed the database, which fsyncs both first: nothing is
 * left to sync.
 */
function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The same on the thread pool: a private descriptor per round, so a closing database never races it. */
function fsyncPathAsync(path: string, done: (error: NodeJS.ErrnoException | null) => void): void {
  open(path, constants.O_RDONLY, (openError, fd) => {
    if (openError !== null) return done(openError.code === "ENOENT" ? null : openError);
    fsync(fd, (syncError) => close(fd, (closeError) => done(syncError ?? closeError ?? null)));
  });
}
