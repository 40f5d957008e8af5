/**
 * Makes commits durable by syncing WAL files, so that many objects' commits
 * share the cost. With `synchronous: "FULL"` the object databases run at
 * SQLite's NORMAL (a commit writes its WAL frames but does not sync) and the
 * provider syncs the WAL file itself before the commit counts as done:
 * synchronously for `commit()`, or on libuv's thread pool for
 * `commitAsync()`, where the syncs of every object that committed in the
 * same turn run in parallel and the file system can fold them into one
 * journal flush. An acknowledgement still waits for its own file's sync.
 *
 * The WAL is synced with fdatasync(2), as SQLite itself does where it can: a
 * WAL only grows between checkpoints, and fdatasync writes the data and the
 * size needed to read it back. The first sync after a database is opened also
 * fsyncs its directory: the WAL file was created by that open (SQLite does
 * the same under FULL).
 *
 * A failed sync poisons the file (see {@link WalFile.failure}): on Linux the
 * kernel may already have dropped the dirty pages it could not write and
 * marked them clean, so a later sync that succeeds says nothing about them
 * (PostgreSQL's "fsyncgate", 2018). No later sync of the file resolves until
 * the database was rewritten and synced again (`DatabaseSlot` does that, with
 * a checkpoint, before the file is used again).
 */
import { closeSync, constants, fdatasync, fdatasyncSync, fsync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";

interface Round {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
  dir: boolean;
}

/** The sync queue of one WAL file: at most one round running and one waiting (which later callers join). */
export class WalFile {
  readonly #wal: string;
  readonly #dir: string;
  readonly #onFailure: (error: Error) => void;
  /** The directory entry of the WAL (and of a new database) is not yet known durable. */
  #dirDirty = true;
  #running: Round | null = null;
  #waiting: Round | null = null;
  #failure: Error | null = null;

  /** `onFailure` hears of the first failed sync (the database must be rewritten before it is trusted again). */
  constructor(database: string, onFailure: (error: Error) => void = () => {}) {
    this.#wal = `${database}-wal`;
    this.#dir = dirname(database);
    this.#onFailure = onFailure;
  }

  /** The first sync error since the file was last known durable, or null: while set, every sync fails with it. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** The database was rewritten and synced (a checkpoint after a failed sync): syncs count again. */
  recovered(): void {
    this.#failure = null;
    this.#dirDirty = true;
  }

  /** The database was (re)opened: its WAL file is new. */
  reopened(): void {
    this.#dirDirty = true;
  }

  /** Syncs the WAL now, on this thread. */
  syncNow(): void {
    if (this.#failure !== null) throw this.#failure;
    try {
      datasyncPath(this.#wal);
      if (this.#dirDirty) {
        fsyncPath(this.#dir);
        this.#dirDirty = false;
      }
    } catch (error) {
      this.#failed(error as Error);
      throw error;
    }
  }

  /**
   * Resolves once everything written to the WAL before this call is on disk.
   * A round already running may have started before those writes, so a new
   * one follows it; callers in the meantime share that next round.
   */
  sync(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
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
      syncPathAsync(this.#wal, fdatasync, (error) => {
        if (error === null && round.dir) syncPathAsync(this.#dir, fsync, (e) => this.#finish(round, e));
        else this.#finish(round, error);
      });
    if (fsyncFault === null) run();
    else fsyncFault(this.#wal).then(run, (error: NodeJS.ErrnoException) => this.#finish(round, error));
  }

  #finish(round: Round, error: NodeJS.ErrnoException | null): void {
    this.#running = null;
    if (error !== null) this.#failed(error);
    if (error === null && this.#failure === null) round.resolve();
    else round.reject(error ?? this.#failure);
    const next = this.#waiting;
    if (next === null) return;
    this.#waiting = null;
    // After a failure, what waited was written on top of pages that may be gone: it fails too.
    if (this.#failure !== null) next.reject(this.#failure);
    else this.#start(next);
  }

  #failed(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.#onFailure(error);
  }
}

/** See {@link injectFsyncFault}. */
let fsyncFault: ((wal: string) => Promise<void>) | null = null;

/**
 * Test-only fault injection in the sync path of `commitAsync()`: `hook`
 * runs before each sync round of a WAL file; the round's sync runs when its
 * promise resolves (a slow sync), or fails with its rejection instead of
 * running (a failed sync). `null` removes it. Not exported from the package:
 * tests import this module. (For a sync that the kernel itself fails, run the
 * process under `strace -e inject=fdatasync:error=EIO`.)
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
 * by SQLite when it closed the database, which syncs both first: nothing is
 * left to sync.
 */
function datasyncPath(path: string): void {
  syncPathSync(path, fdatasyncSync);
}

/** fsync(2) of `path` (a directory, or a database after a checkpoint). */
export function fsyncPath(path: string): void {
  syncPathSync(path, fsyncSync);
}

function syncPathSync(path: string, sync: (fd: number) => void): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    sync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The same on the thread pool, with a private descriptor per round (so a
 * closing database never races it). Only the sync goes to the pool: the
 * descriptor is opened and closed on this thread (a path lookup and a close
 * of a read-only descriptor: no I/O). Each trip to the pool waits behind
 * every sync queued there (4 threads, shared by all objects), so an open and
 * a close on the pool would make each round wait in that queue three times.
 */
export function syncPathAsync(
  path: string,
  sync: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void,
  done: (error: NodeJS.ErrnoException | null) => void,
): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (error) {
    const openError = error as NodeJS.ErrnoException;
    process.nextTick(done, openError.code === "ENOENT" ? null : openError);
    return;
  }
  sync(fd, (syncError) => {
    let closeError: NodeJS.ErrnoException | null = null;
    try {
      closeSync(fd);
    } catch (error) {
      closeError = error as NodeJS.ErrnoException;
    }
    done(syncError ?? closeError);
  });
}
