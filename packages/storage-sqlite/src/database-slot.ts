/**
 * Where one object's database lives, opened only when needed. An object that
 * never writes gets no file: reads of an object with no file are answered by
 * an empty database shared by the provider (the same schema, never written),
 * and the file is created by the first write. This keeps visits that only
 * read (and objects that only hold WebSockets) free of files, schema writes
 * and fsyncs.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { TorporError } from "@torpor/core";
import type { ObjectKey } from "@torpor/core/storage";
import type { AlarmIndex } from "./alarm-index.ts";
import { ObjectDatabase } from "./object-database.ts";
import type { SynchronousMode } from "./options.ts";
import { WalCheckpoint } from "./wal-checkpoint.ts";
import { fsyncPath, WalFile } from "./wal-sync.ts";

/** What the slots of one provider share. */
export interface SlotContext {
  readonly inMemory: boolean;
  /** `PRAGMA synchronous` of the object databases. */
  readonly synchronous: SynchronousMode;
  /** Commits are made durable by fsyncing the WAL here (see wal-sync.ts), not by SQLite. */
  readonly syncWal: boolean;
  readonly index: AlarmIndex;
  /** The shared empty database that answers reads of objects with no file. Never written. */
  empty(): ObjectDatabase;
  /** Databases whose last WAL sync failed, not yet rewritten: nothing of them is trusted until it is. */
  readonly unsynced: Set<string>;
}

/** @internal one object's database handle, shared by its storages while it is live. */
export class DatabaseSlot {
  /** The open database, or null while not needed (or no file exists). */
  odb: ObjectDatabase | null = null;
  refs = 0;
  /** Known to have no file (checked once per slot: one process owns the directory). */
  #absent = false;
  /** The object's name is recorded in the open database. */
  #named = false;
  /** Set when the provider makes commits durable itself. */
  readonly wal: WalFile | null;
  /** A WAL sync of this database failed: it is rewritten and synced before it is read or written again. */
  #suspect: boolean;
  /** Checkpoints off the commit path, when the provider makes commits durable (wal-checkpoint.ts). */
  readonly #checkpoint: WalCheckpoint | null;

  constructor(
    readonly where: string,
    readonly key: ObjectKey,
    readonly context: SlotContext,
  ) {
    this.wal = context.syncWal ? new WalFile(where, () => this.#syncFailed()) : null;
    this.#checkpoint = context.syncWal ? new WalCheckpoint(where, () => this.#syncFailed()) : null;
    this.#suspect = context.unsynced.has(where);
  }

  /** The database to read from: the object's own if it has one, else the shared empty one. */
  reader(): ObjectDatabase {
    if (this.#suspect) this.#recoverIfIdle();
    return this.odb ?? this.#openExisting() ?? this.context.empty();
  }

  /** The object's own database, created (with its schema) on the first write. */
  writer(): ObjectDatabase {
    if (this.#checkpoint?.unsynced === true) {
      try {
        this.#checkpoint.beforeWrite();
      } catch {
        // The database file's fsync failed: it is suspect now, and rewritten just below.
      }
    }
    if (this.#suspect) this.#recoverIfIdle();
    const odb = this.odb ?? this.#openExisting() ?? this.#create();
    if (this.#checkpoint?.emptyWal === true) this.#checkpoint.beginNewWal(odb);
    return odb;
  }

  /**
   * A commit of this database is durable: checkpoints it if its WAL is full (wal-checkpoint.ts).
   * The promise, if any, settles once the database file is synced.
   */
  afterDurable(): Promise<void> | undefined {
    const odb = this.odb;
    return odb === null || this.#checkpoint === null ? undefined : this.#checkpoint.afterDurable(odb);
  }

  /** A commit of this database ran (wal-checkpoint.ts: the one starting an emptied WAL ran at OFF). */
  afterCommit(): void {
    this.#checkpoint?.afterCommit();
  }

  /** The same after a synchronous commit: a checkpoint runs here, SQLite syncing as it goes. */
  afterDurableSync(): void {
    const odb = this.odb;
    if (odb !== null) this.#checkpoint?.afterDurableSync(odb);
  }

  /** Not while a batch is open: that batch can no longer be acknowledged (its sync fails), and the reset that follows rolls it back. */
  #recoverIfIdle(): void {
    if (this.odb === null || !this.odb.db.inTransaction) this.#recover();
  }

  #syncFailed(): void {
    this.#suspect = true;
    this.context.unsynced.add(this.where);
  }

  /**
   * After a failed WAL sync the kernel may have dropped pages it could not
   * write while the page cache still shows them, and a later sync would not
   * say so: acknowledging anything written on top would rest on data that a
   * power loss can take. As PostgreSQL's crash recovery ends with a
   * checkpoint, the database SQLite shows is first written again into the
   * main file (a TRUNCATE checkpoint, which dirties those pages anew and
   * syncs the file) and synced with its directory; only then is it used. If
   * that fails too, the storage cannot open (`ERR_STORAGE_OPEN`) and the next
   * event tries again.
   */
  #recover(): void {
    let odb = this.odb;
    let opened = false;
    try {
      if (odb === null && existsSync(this.where)) {
        odb = this.odb = this.#open(this.where);
        opened = true;
      }
      if (odb !== null) {
        const [result] = odb.db.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
        if (result !== undefined && result.busy !== 0) throw new Error("the checkpoint could not complete");
        fsyncPath(this.where);
        fsyncPath(`${this.where}-wal`);
        fsyncPath(dirname(this.where));
      }
    } catch (cause) {
      if (opened) this.close();
      const key = this.key;
      throw new TorporError(
        "ERR_STORAGE_OPEN",
        `The storage of Durable Object ${key.namespace}/${key.name ?? key.id} could not be made durable again after a failed fsync: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    this.#suspect = false;
    this.context.unsynced.delete(this.where);
    this.wal?.recovered();
    this.#checkpoint?.settled();
  }

  /** Records the name an id was derived from (for listings), once per open database; call inside the write batch. */
  recordName(odb: ObjectDatabase): void {
    if (this.#named) return;
    this.#named = true;
    const name = this.key.name;
    if (name === undefined || odb.metaGet.get("name") !== undefined) return;
    odb.metaPut.run("name", name);
    this.context.index.setName(this.key, name);
  }

  /**
   * Whether the object may have an alarm, without opening its database when it certainly has none. Asked at every
   * construction: an object with no file (a new one, one that only holds sockets) has no alarm, since an alarm is
   * stored in the object's own database (an index entry for it is a stale extra), and one missing file is a cheaper
   * question than a read of the index shared by every worker (a read transaction on a WAL database other processes
   * open: ~25 µs of each new object's construction, bench/RESULTS.md).
   */
  mayHaveAlarm(): boolean {
    if (this.odb !== null) return true;
    if (!this.context.inMemory && this.#hasNoFile()) return false;
    return this.context.index.hasAlarm(this.key);
  }

  /** True when the object has no file (remembered until a write creates it, or the slot closes). */
  #hasNoFile(): boolean {
    if (!this.#absent && !existsSync(this.where)) this.#absent = true;
    return this.#absent;
  }

  close(): void {
    const odb = this.odb;
    if (odb !== null && this.#checkpoint !== null) {
      if (odb.db.inTransaction) odb.rollback.run();
      this.#checkpoint.beforeClose();
    }
    odb?.close();
    // SQLite checkpointed and synced the database as it closed it.
    this.#checkpoint?.settled();
    this.odb = null;
    this.#absent = false;
    this.#named = false;
  }

  #openExisting(): ObjectDatabase | null {
    if (this.#absent || this.context.inMemory) return null;
    if (!existsSync(this.where)) {
      this.#absent = true;
      return null;
    }
    this.wal?.reopened();
    return (this.odb = this.#open(this.where));
  }

  #create(): ObjectDatabase {
    this.#absent = false;
    this.wal?.reopened();
    return (this.odb = this.#open(this.context.inMemory ? ":memory:" : this.where));
  }

  /** Opens the file; a failure (disk full, out of descriptors, a corrupt file) reaches the storage call as ERR_STORAGE_OPEN. */
  #open(path: string): ObjectDatabase {
    try {
      return new ObjectDatabase(path, this.context.synchronous, !this.context.syncWal);
    } catch (cause) {
      const key = this.key;
      throw new TorporError(
        "ERR_STORAGE_OPEN",
        `The storage of Durable Object ${key.namespace}/${key.name ?? key.id} could not be opened: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
  }
}
