/**
 * Checkpoints of an object database whose commits the provider makes durable
 * itself (wal-sync.ts), kept off the commit path.
 *
 * SQLite checkpoints a WAL database inside the COMMIT that takes the WAL past
 * `wal_autocheckpoint` pages, and at NORMAL that checkpoint fsyncs the WAL
 * and the database file on the calling thread: the event loop stops for two
 * fsyncs every ~1,000 commits of every object, and every message in flight
 * on the process waits (the durable echo's p99). Here SQLite's automatic
 * checkpoint is off; once a commit is durable and the WAL has grown past the
 * same size, the pages are copied into the database file without a sync (the
 * WAL was synced already: every commit is), and the database file is then
 * fsynced on libuv's pool.
 *
 * The copy is only safe once that fsync is done: the next write transaction
 * may restart the WAL over the frames just copied, and a power loss would
 * then take the pages that only the unsynced database file held. So the
 * commit that found the WAL full settles only after the database file's
 * fsync (its client waits one more fsync, no event does), and a write that
 * starts before it finished (another socket of the object) fsyncs the file
 * first, on its own thread (`beforeWrite`).
 */
import { fsync, statSync } from "node:fs";
import type { ObjectDatabase } from "./object-database.ts";
import { fsyncPath, syncPathAsync } from "./wal-sync.ts";

/** WAL size that starts a checkpoint: about SQLite's default (1,000 pages of 4 KiB with their frame headers). */
export const CHECKPOINT_WAL_BYTES = 1000 * (4096 + 24);
/**
 * Commits after which a checkpoint is due whatever the file's size: each commit writes at least
 * one frame, so this is never more often than SQLite's own 1,000 pages. (After a checkpoint SQLite
 * writes the WAL again from its start, so the file's size says nothing until it grows past itself.)
 */
const CHECKPOINT_COMMITS = 1000;
/** The WAL's size is read once every this many commits (a stat on this thread). */
const CHECK_EVERY = 16;

/** The checkpoints of one database file. */
export class WalCheckpoint {
  readonly #database: string;
  readonly #onFailure: (error: Error) => void;
  #commits = 0;
  /** Commits since the last checkpoint. */
  #sinceCheckpoint = 0;
  /** The WAL file's size at the last checkpoint: it holds more frames than then only once it is larger. */
  #highWater = 0;
  /** Pages were copied into the database file and its fsync has not completed. */
  #unsynced = false;
  /** Bumped whenever the pending fsync stops mattering (done on this thread, or the database was rewritten). */
  #generation = 0;

  /** `onFailure` hears of a failed fsync of the database file (it must be rewritten before it is trusted again). */
  constructor(database: string, onFailure: (error: Error) => void) {
    this.#database = database;
    this.#onFailure = onFailure;
  }

  /** True while pages a checkpoint copied are not yet known durable in the database file. */
  get unsynced(): boolean {
    return this.#unsynced;
  }

  /**
   * A commit of `odb` is durable. Checkpoints if the WAL has grown past
   * {@link CHECKPOINT_WAL_BYTES}; the promise (then) settles once the
   * database file is synced. Never rejects: the commit itself is durable in
   * the WAL, and a failed fsync of the database file goes to `onFailure`.
   */
  afterDurable(odb: ObjectDatabase): Promise<void> | undefined {
    if (!this.#due(odb)) return undefined;
    this.#unsynced = true;
    try {
      odb.db.pragma("synchronous = OFF");
      try {
        odb.db.pragma("wal_checkpoint(PASSIVE)");
      } finally {
        odb.db.pragma("synchronous = NORMAL");
      }
    } catch (error) {
      // The commit is durable in the WAL all the same; what the copy left in the database file is
      // unknown, so the database is rewritten (and synced) before it is used again.
      this.#unsynced = false;
      this.#onFailure(error as Error);
      return undefined;
    }
    const generation = ++this.#generation;
    return new Promise((resolve) => {
      syncPathAsync(this.#database, fsync, (error) => {
        if (generation === this.#generation) {
          this.#unsynced = false;
          if (error !== null) this.#onFailure(error);
        }
        resolve();
      });
    });
  }

  /** After a synchronous commit (the caller waits anyway): SQLite checkpoints and syncs on this thread. */
  afterDurableSync(odb: ObjectDatabase): void {
    if (this.#due(odb)) odb.db.pragma("wal_checkpoint(PASSIVE)");
  }

  /** Whether the WAL has grown past the checkpoint size (looked at once every {@link CHECK_EVERY} commits). */
  #due(odb: ObjectDatabase): boolean {
    this.#sinceCheckpoint++;
    if (++this.#commits < CHECK_EVERY || this.#unsynced) return false;
    // Not inside an open write transaction (an event wrote meanwhile): look again after the next commit.
    if (odb.db.inTransaction) return false;
    this.#commits = 0;
    let size: number;
    try {
      size = statSync(`${this.#database}-wal`).size;
    } catch {
      return false;
    }
    const grown = size > this.#highWater && size >= CHECKPOINT_WAL_BYTES;
    if (!grown && this.#sinceCheckpoint < CHECKPOINT_COMMITS) return false;
    this.#sinceCheckpoint = 0;
    this.#highWater = Math.max(this.#highWater, size);
    return true;
  }

  /** Before a write transaction starts: the pages of a checkpoint must be durable before SQLite may restart the WAL over them. Throws if the fsync fails. */
  beforeWrite(): void {
    if (!this.#unsynced) return;
    this.#generation++;
    this.#unsynced = false;
    try {
      fsyncPath(this.#database);
    } catch (error) {
      this.#onFailure(error as Error);
      throw error;
    }
  }

  /** The database was rewritten and synced (a recovery) or closed (SQLite syncs it then): nothing is pending. */
  settled(): void {
    this.#generation++;
    this.#unsynced = false;
    this.#commits = 0;
    // Closed (SQLite deletes the WAL) or recovered (a TRUNCATE checkpoint): the file starts empty.
    this.#sinceCheckpoint = 0;
    this.#highWater = 0;
  }
}
