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
 *
 * Restarting the WAL. When SQLite writes the WAL again from its start, at
 * NORMAL it fsyncs the new WAL header before the first frame (on the thread
 * that commits: the event loop's), so that a power loss can never find the
 * old header in front of a mix of old and new frames (it would replay a
 * prefix of the old frames over pages the database file holds newer: SQLite
 * ticket ff5be73dee). Here, once the database file's fsync is done, the WAL
 * is emptied instead (`wal_checkpoint(TRUNCATE)`: nothing left to copy, the
 * file cut to zero bytes) and that truncation is fsynced on the pool too.
 * With no old frame left on disk, the new header's sync guards nothing: the
 * write transaction that starts the new WAL runs at `synchronous = OFF`, set
 * before its BEGIN (`beginNewWal`: SQLite refuses the change inside a
 * transaction) and back to NORMAL after its COMMIT (`afterCommit`) or before a
 * close. In WAL mode with automatic checkpoints off, NORMAL syncs nothing else
 * at a commit, and the provider fdatasyncs the commit's frames before its
 * acknowledgement as always. A write that starts before the truncation is
 * durable fsyncs it first on its own thread, as above. So no fsync is left on
 * the event loop's thread in a checkpoint cycle.
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

/**
 * What the last checkpoint left that is not yet known durable: nothing; the pages it copied into the database file
 * (that file's fsync is pending); or, once that fsync is done, the emptying of the WAL (its fsync is pending). One at a
 * time: the WAL is emptied only after the database file's fsync, and no checkpoint starts while either is pending.
 */
type Unsynced = "nothing" | "database" | "wal-truncation";

/** The checkpoints of one database file. */
export class WalCheckpoint {
  readonly #database: string;
  readonly #onFailure: (error: Error) => void;
  #commits = 0;
  /** Commits since the last checkpoint. */
  #sinceCheckpoint = 0;
  /** The WAL file's size at the last checkpoint: it holds more frames than then only once it is larger. */
  #highWater = 0;
  #unsynced: Unsynced = "nothing";
  /** The WAL is empty and its truncation durable: the next write transaction may run at OFF (see the header). */
  #emptyWal = false;
  /** The connection switched to `synchronous = OFF` for the transaction that starts the emptied WAL. */
  #offFor: ObjectDatabase | null = null;
  /** Bumped whenever the pending fsync stops mattering (done on this thread, or the database was rewritten). */
  #generation = 0;

  /** `onFailure` hears of a failed fsync of the database file (it must be rewritten before it is trusted again). */
  constructor(database: string, onFailure: (error: Error) => void) {
    this.#database = database;
    this.#onFailure = onFailure;
  }

  /** True while what a checkpoint did (pages copied into the database file, then the WAL emptied) is not yet known durable. */
  get unsynced(): boolean {
    return this.#unsynced !== "nothing";
  }

  /** A commit ran: if it was the one starting the emptied WAL (at OFF), the connection goes back to NORMAL. */
  afterCommit(): void {
    this.#restoreNormal();
  }

  /** The database is about to close: SQLite's close-time checkpoint must sync, so back to NORMAL. */
  beforeClose(): void {
    this.#restoreNormal();
  }

  /** The WAL is empty and its truncation durable: the next write transaction starts a new WAL. */
  get emptyWal(): boolean {
    return this.#emptyWal;
  }

  /** Before the BEGIN of the write transaction that starts the emptied WAL: its header needs no sync of its own. */
  beginNewWal(odb: ObjectDatabase): void {
    if (odb.db.inTransaction) return;
    this.#emptyWal = false;
    try {
      odb.db.pragma("synchronous = OFF");
      this.#offFor = odb;
    } catch {
      // Stays at NORMAL: SQLite then syncs the new header itself.
    }
  }

  #restoreNormal(): void {
    const odb = this.#offFor;
    if (odb === null || !odb.db.open || odb.db.inTransaction) return;
    this.#offFor = null;
    odb.db.pragma("synchronous = NORMAL");
  }

  /**
   * A commit of `odb` is durable. Checkpoints if the WAL has grown past
   * {@link CHECKPOINT_WAL_BYTES}; the promise (then) settles once the
   * database file is synced. Never rejects: the commit itself is durable in
   * the WAL, and a failed fsync of the database file goes to `onFailure`.
   */
  afterDurable(odb: ObjectDatabase): Promise<void> | undefined {
    if (!this.#due(odb)) return undefined;
    this.#unsynced = "database";
    try {
      pragmaAtOff(odb, "wal_checkpoint(PASSIVE)");
    } catch (error) {
      // The commit is durable in the WAL all the same; what the copy left in the database file is
      // unknown, so the database is rewritten (and synced) before it is used again.
      this.#unsynced = "nothing";
      this.#onFailure(error as Error);
      return undefined;
    }
    const generation = ++this.#generation;
    return new Promise((resolve) => {
      syncPathAsync(this.#database, fsync, (error) => {
        if (generation !== this.#generation) return resolve();
        this.#unsynced = "nothing";
        if (error !== null) {
          this.#onFailure(error);
          return resolve();
        }
        // No write since the copy (it would have bumped the generation): the WAL holds nothing the
        // synced database file lacks, so it can be emptied; then its truncation is synced.
        if (!this.#truncate(odb)) return resolve();
        syncPathAsync(`${this.#database}-wal`, fsync, (walError) => {
          if (generation === this.#generation) {
            this.#unsynced = "nothing";
            if (walError === null) this.#emptyWal = true;
          }
          // A failed fsync of the truncation loses nothing committed (the database file is synced): the
          // next commit then restarts the WAL at NORMAL, with SQLite's own header sync.
          resolve();
        });
      });
    });
  }

  /** Empties the WAL after a complete, synced checkpoint (nothing is copied). False if SQLite could not. */
  #truncate(odb: ObjectDatabase): boolean {
    try {
      const [result] = pragmaAtOff(odb, "wal_checkpoint(TRUNCATE)") as Array<{ busy: number; log: number }>;
      if (result === undefined || result.busy !== 0 || result.log !== 0) return false;
    } catch {
      return false;
    }
    this.#unsynced = "wal-truncation";
    this.#highWater = 0;
    return true;
  }

  /** After a synchronous commit (the caller waits anyway): SQLite checkpoints and syncs on this thread. */
  afterDurableSync(odb: ObjectDatabase): void {
    if (this.#due(odb)) odb.db.pragma("wal_checkpoint(PASSIVE)");
  }

  /** Whether the WAL has grown past the checkpoint size (looked at once every {@link CHECK_EVERY} commits). */
  #due(odb: ObjectDatabase): boolean {
    this.#sinceCheckpoint++;
    if (++this.#commits < CHECK_EVERY || this.unsynced) return false;
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
    const unsynced = this.#unsynced;
    if (unsynced === "nothing") return;
    this.#generation++;
    this.#unsynced = "nothing";
    if (unsynced === "database") {
      try {
        fsyncPath(this.#database);
      } catch (error) {
        this.#onFailure(error as Error);
        throw error;
      }
      return;
    }
    // The WAL was emptied: its truncation must be durable before new frames go into it.
    try {
      fsyncPath(`${this.#database}-wal`);
      this.#emptyWal = true;
    } catch {
      // Nothing committed is at risk (the database file is synced); SQLite syncs the new header itself.
    }
  }

  /** The database was rewritten and synced (a recovery) or closed (SQLite syncs it then): nothing is pending. */
  settled(): void {
    this.#generation++;
    this.#unsynced = "nothing";
    this.#emptyWal = false;
    // After a recovery the connection is still open (a close restored NORMAL before it closed).
    this.#restoreNormal();
    this.#offFor = null;
    this.#commits = 0;
    // Closed (SQLite deletes the WAL) or recovered (a TRUNCATE checkpoint): the file starts empty.
    this.#sinceCheckpoint = 0;
    this.#highWater = 0;
  }
}

/** Runs a checkpoint `pragma` at `synchronous = OFF` (SQLite syncs nothing itself: the pool does), then back to NORMAL. */
function pragmaAtOff(odb: ObjectDatabase, pragma: string): unknown {
  odb.db.pragma("synchronous = OFF");
  try {
    return odb.db.pragma(pragma);
  } finally {
    odb.db.pragma("synchronous = NORMAL");
  }
}
