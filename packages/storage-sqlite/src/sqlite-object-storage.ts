/**
 * One object's storage on its SQLite database: the Cloudflare API run
 * synchronously, each batch of writes in one open transaction that the
 * runtime commits at the end of the turn.
 */
import type Database from "better-sqlite3";
import { TorporError, type DurableObjectStorage, type SqlStorage, type StorageLimits } from "@torpor/core";
import {
  compareKeys,
  commitFailed,
  createStorageApi,
  deserializeValue,
  prefixUpperBound,
  WriteBatch,
  type NormalizedListOptions,
  type ObjectKey,
  type ObjectStorage,
  type StorageBackend,
  type StorageHooks,
} from "@torpor/core/storage";
import type { AlarmIndex } from "./alarm-index.ts";
import type { DatabaseSlot } from "./database-slot.ts";
import type { ObjectDatabase } from "./object-database.ts";
import { createSqlStorage } from "./sql-storage.ts";

/** What a commit leaves for the alarm index to do once it is durable (any other value: index this later time). */
const NOTHING = -1;
const COMMITTED = -2;
/** Committed, and the batch deleted the alarm: the index entry can go once this is durable. */
const ALARM_DELETED = -3;
/** `NOTHING`, `COMMITTED`, `ALARM_DELETED`, or an alarm time later than the indexed one, to index once durable. */
type Committed = number;

/** @internal made by `sqliteStorage().open()`. */
export class SqliteObjectStorage implements ObjectStorage, StorageBackend<boolean> {
  #api: DurableObjectStorage | null = null;
  readonly #limits: StorageLimits;
  readonly #slot: DatabaseSlot;
  readonly #key: ObjectKey;
  readonly hooks: StorageHooks;
  readonly #index: AlarmIndex;
  readonly #onClose: () => void;
  #sql: SqlStorage | null = null;
  /**
   * Write-started signal, closure depth, deferred commit and lost batch (core's
   * protocol, shared by every provider). A batch is lost here when SQLite ended
   * the open transaction itself: every write of it is gone, so nothing may be
   * written or read until the runtime fails the batch (commit throws) and rolls back.
   */
  readonly #batch: WriteBatch;
  #alarmChanged = false;
  /** Counts alarm changes, so a late index cleanup can tell that a newer batch set one. */
  #alarmWrites = 0;

  constructor(slot: DatabaseSlot, hooks: StorageHooks, limits: StorageLimits, index: AlarmIndex, onClose: () => void) {
    this.#slot = slot;
    this.#key = slot.key;
    this.hooks = hooks;
    this.#index = index;
    this.#onClose = onClose;
    this.#batch = new WriteBatch(hooks);
    this.#limits = limits;
  }

  /**
   * The user-facing storage, made on the first `ctx.storage` read: an object that only holds WebSockets (a new
   * one per connection, the common case) never builds it (~20 µs and its garbage on each open, bench/RESULTS.md).
   */
  get api(): DurableObjectStorage {
    return (this.#api ??= createStorageApi(this, this.#limits));
  }

  /** The database reads go to: the object's own, or the shared empty one while it has no file (see database-slot.ts). */
  get #odb(): ObjectDatabase {
    return this.#slot.reader();
  }

  get hasPendingWrites(): boolean {
    return this.#batch.open;
  }

  get inClosure(): boolean {
    return this.#batch.depth > 0;
  }

  get #label(): string {
    return `${this.#key.namespace}/${this.#key.id}`;
  }

  commit(): void {
    const done = this.#commitBatch();
    if (done === NOTHING) return;
    try {
      this.#slot.wal?.syncNow();
    } catch (cause) {
      throw this.#notDurable(cause);
    }
    this.#indexDurable(done, this.#alarmWrites);
    this.#slot.afterDurableSync();
  }

  /** Commits now; the promise settles when the batch is on disk (null: it already is). */
  commitAsync(): Promise<void> | null {
    const done = this.#commitBatch();
    const wal = this.#slot.wal;
    if (done === NOTHING) return null;
    if (wal === null) {
      this.#indexDurable(done, this.#alarmWrites);
      return null;
    }
    // Once durable, the WAL may be checkpointed (database-slot.ts): this commit then settles after that checkpoint's sync.
    const slot = this.#slot;
    if (done === COMMITTED)
      return wal.sync().then(
        () => slot.afterDurable(),
        (cause: unknown) => this.#throwNotDurable(cause),
      );
    const alarmWrites = this.#alarmWrites;
    return wal.sync().then(
      () => {
        this.#indexDurable(done, alarmWrites);
        return slot.afterDurable();
      },
      (cause: unknown) => this.#throwNotDurable(cause),
    );
  }

  /**
   * The alarm index's half of a commit that is now durable: forget a deleted
   * alarm, or move the entry to a later time. Only once durable (a crash
   * before would leave the object with the earlier alarm and the index
   * without it, or later than it), and only if no later batch changed the
   * alarm meanwhile (its own commit indexes what it set).
   */
  #indexDurable(done: Committed, alarmWrites: number): void {
    if (done === COMMITTED || this.#alarmWrites !== alarmWrites) return;
    if (done === ALARM_DELETED) this.#index.deleteAlarm(this.#key);
    else if (done >= 0) this.#index.setAlarm(this.#key, done);
  }

  #throwNotDurable(cause: unknown): never {
    throw this.#notDurable(cause);
  }

  #notDurable(cause: unknown): TorporError {
    return new TorporError(
      "ERR_STORAGE_COMMIT_FAILED",
      `Commit of ${this.#key.namespace}/${this.#key.id} could not be made durable (fsync of its WAL failed): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }

  /** Ends the open batch (COMMIT) and says what it did. Throws, rolled back, if the commit failed. */
  #commitBatch(): Committed {
    const batch = this.#batch;
    // Nothing written (no batch signalled, no transaction closure open): nothing to commit, and no
    // reason to open a database that may be unreadable (closing after a failed open must not throw).
    if (batch.closed || (!batch.open && batch.depth === 0)) {
      batch.committed();
      return NOTHING;
    }
    this.#checkBatch();
    const step = batch.beginCommit(() => this.rollback(), this.#label);
    const odb = this.#odb;
    if (step === "deferred") return NOTHING;
    if (step === "none" || !odb.db.inTransaction) {
      batch.committed();
      return NOTHING;
    }
    const alarmChanged = this.#alarmChanged;
    let later: number | null = null;
    try {
      if (alarmChanged) {
        // An earlier alarm is indexed before the commit: a crash in between leaves an early or
        // extra entry (the runtime re-reads the object's alarm before running it), never a late or
        // missing one. A later one only once the commit is durable (#indexDurable).
        const t = this.#readAlarm();
        if (t !== null) {
          const indexed = this.#index.alarmTime(this.#key);
          if (indexed === null || t < indexed) this.#index.setAlarm(this.#key, t);
          else if (t > indexed) later = t;
        }
      }
      odb.commit.run();
      this.#slot.afterCommit();
    } catch (cause) {
      if (odb.db.inTransaction) odb.rollback.run();
      batch.rolledBack();
      this.#alarmChanged = false;
      if (alarmChanged) this.hooks.alarmChanged();
      throw commitFailed(this.#label, cause);
    }
    batch.committed();
    this.#alarmChanged = false;
    if (!alarmChanged) return COMMITTED;
    return later ?? (this.#readAlarm() === null ? ALARM_DELETED : COMMITTED);
  }

  rollback(): void {
    if (this.#batch.closed) return;
    // The open handle as it is (no reopening, no recovery after a failed sync: this is part of a reset).
    const odb = this.#slot.odb;
    if (odb?.db.inTransaction === true) odb.rollback.run();
    this.#batch.rolledBack();
    if (this.#alarmChanged) {
      this.#alarmChanged = false;
      this.hooks.alarmChanged();
    }
  }

  alarmTime(): number | null {
    this.check();
    // Asked at every wake: the alarm index answers "none" without opening the database.
    return this.#slot.mayHaveAlarm() ? this.#readAlarm() : null;
  }

  /** Deletes the alarm in the open batch if it is still `scheduledTime`: committed, made durable and then unindexed like any alarm change. */
  clearAlarmIfUnchanged(scheduledTime: number): void {
    this.check();
    if (this.#readAlarm() === scheduledTime) this.setAlarm(null);
  }

  close(): void {
    if (this.#batch.closed) return;
    try {
      // A transaction() closure still open (left running by a timer or waitUntil(), or a constructor
      // that threw) has not ended, so nothing of its batch was acknowledged: committing would make a
      // half-run closure durable. Dropped with its batch, as the PostgreSQL provider drops it.
      if (this.#batch.depth > 0) this.rollback();
      else this.commit();
    } finally {
      this.#batch.close();
      this.#onClose();
    }
  }

  // --- StorageBackend: the primitives createStorageApi builds `api` on ------

  check(): void {
    this.#batch.check();
  }

  /** A batch is open (we signalled it, or a transaction closure runs) but SQLite has no transaction: it ended it. */
  #checkBatch(): void {
    const batch = this.#batch;
    if (batch.lost === null && (batch.open || batch.depth > 0) && !this.#odb.db.inTransaction) {
      this.#batchLost(new Error("SQLite ended the transaction of the write batch before its commit"));
    }
  }

  #batchLost(cause: unknown): void {
    if (this.#batch.lost !== null) return;
    const message = cause instanceof Error ? cause.message : String(cause);
    this.batchLost(
      new TorporError(
        "ERR_STORAGE_BATCH_LOST",
        `SQLite ended the write batch's transaction, rolling back every write of the batch (the object will be reset): ${message}`,
        {
          cause,
        },
      ),
    );
  }

  batchLost(error: TorporError): void {
    // The runtime must commit, and so fail, this batch even if nothing signalled it yet.
    this.#batch.lose(error);
  }

  /** Runs a write statement; if SQLite ended the batch's transaction with it, the batch is lost. */
  #write<T>(statement: () => T): T {
    try {
      return statement();
    } catch (err) {
      if (!this.#odb.db.inTransaction) this.#batchLost(err);
      throw err;
    }
  }

  getAlarm(): number | null {
    return this.#readAlarm();
  }

  sql(): SqlStorage {
    this.check();
    return (this.#sql ??= createSqlStorage({
      database: () => {
        this.check();
        return this.#odb;
      },
      beginWrite: () => this.#beginWrite(),
      batchLost: (cause) => this.#batchLost(cause),
    }));
  }

  #beginWrite(): void {
    this.#batch.check();
    this.#checkBatch();
    this.#batch.check();
    const odb = this.#slot.writer();
    if (!odb.db.inTransaction) odb.begin.run();
    this.#slot.recordName(odb);
    this.#batch.started();
  }

  #readAlarm(): number | null {
    const row = this.#odb.metaGet.get("alarm");
    return row === undefined || row.value === null ? null : Number(row.value);
  }

  get(key: string): unknown {
    const row = this.#odb.kvGet.get(key);
    return row === undefined ? undefined : deserializeValue(row.value);
  }

  getMany(keys: ReadonlySet<string>): Map<string, unknown> {
    const found: [string, unknown][] = [];
    for (const k of keys) {
      const row = this.#odb.kvGet.get(k);
      if (row !== undefined) found.push([k, row.value]);
    }
    found.sort((a, b) => compareKeys(a[0], b[0]));
    return new Map(found.map(([k, v]) => [k, deserializeValue(v as Buffer)]));
  }

  put(entries: [string, Buffer][]): void {
    if (entries.length === 0) return;
    this.#beginWrite();
    const put = this.#odb.kvPut;
    this.#write(() => {
      for (const [k, v] of entries) put.run(k, v);
    });
  }

  putOne(key: string, value: Buffer): void {
    this.#beginWrite();
    this.#write(() => this.#odb.kvPut.run(key, value));
  }

  delete(keys: string[]): number {
    if (keys.length === 0) return 0;
    this.#beginWrite();
    const del = this.#odb.kvDelete;
    return this.#write(() => {
      let n = 0;
      for (const k of keys) n += del.run(k).changes;
      return n;
    });
  }

  list(o: NormalizedListOptions): [string, unknown][] {
    const upper = o.prefix === undefined ? undefined : prefixUpperBound(o.prefix);
    const params: unknown[] = [];
    let shape = "";
    let where = "";
    const bound = (value: string | undefined, op: string) => {
      if (value === undefined) {
        shape += "_";
        return;
      }
      shape += op;
      where += `${where === "" ? " WHERE" : " AND"} key ${op} ?`;
      params.push(value);
    };
    bound(o.start, ">=");
    bound(o.startAfter, ">");
    bound(o.prefix, ">=");
    bound(o.end, "<");
    bound(upper, "<");
    shape += o.reverse ? "r" : "f";
    if (o.limit !== undefined) {
      shape += "l";
      params.push(o.limit);
    }
    const stmt = this.#odb.listStatement(
      shape,
      () => `SELECT key, value FROM _cf_KV${where} ORDER BY key ${o.reverse ? "DESC" : "ASC"}${o.limit !== undefined ? " LIMIT ?" : ""}`,
    ) as Database.Statement<unknown[], [string, Buffer]>;
    const rows = stmt.raw(true).all(...params) as unknown as [string, Buffer][];
    return rows.map(([k, v]) => [k, deserializeValue(v)]);
  }

  setAlarm(time: number | null): void {
    if (time === null) {
      this.check();
      if (this.#readAlarm() === null) return;
      this.#beginWrite();
      this.#write(() => this.#odb.metaDelete.run("alarm"));
    } else {
      this.#beginWrite();
      this.#write(() => this.#odb.metaPut.run("alarm", time));
    }
    this.#alarmChanged = true;
    this.#alarmWrites++;
    this.hooks.alarmChanged();
  }

  /** Cloudflare's deleteAll on SQLite-backed objects: KV data, user tables and the alarm. */
  deleteAll(): void {
    this.#beginWrite();
    this.#write(() => this.#deleteAll());
  }

  #deleteAll(): void {
    const odb = this.#odb;
    odb.kvDeleteAll.run();
    if (this.#readAlarm() !== null) {
      odb.metaDelete.run("alarm");
      this.#alarmChanged = true;
      this.#alarmWrites++;
      this.hooks.alarmChanged();
    }
    // Tables may reference each other; the dropped rows' keys need no checks.
    odb.db.pragma("defer_foreign_keys = ON");
    for (let round = 0; round < 8; round++) {
      const rows = odb.userTables.all();
      if (rows.length === 0) break;
      // Views first, then tables; IF EXISTS because dropping a virtual table drops its shadow tables.
      rows.sort((a, b) => (a.type === b.type ? 0 : a.type === "view" ? -1 : 1));
      for (const r of rows) odb.db.exec(`DROP ${r.type === "view" ? "VIEW" : "TABLE"} IF EXISTS "${r.name.replaceAll('"', '""')}"`);
    }
    odb.clearUserStatements();
  }

  /** Sync and async closures alike hold commits back while they run (#depth); returns whether it began the SQLite transaction. */
  beginTransaction(): boolean {
    this.#batch.check();
    this.#checkBatch();
    this.#batch.check();
    const odb = this.#slot.writer();
    const began = !odb.db.inTransaction;
    if (began) odb.begin.run();
    odb.savepoint.run();
    this.#batch.enterClosure();
    return began;
  }

  endTransaction(began: boolean, ok: boolean): void {
    const batch = this.#batch;
    try {
      if (batch.closed) return;
      const odb = this.#odb;
      if (!odb.db.inTransaction) {
        // SQLite ended the transaction inside the closure (the savepoint went with it).
        this.#checkBatch();
        return;
      }
      if (!ok) odb.rollbackTo.run();
      odb.release.run();
      // A transaction that wrote nothing must not leave an empty one open.
      if (began && !batch.open && batch.depth === 1 && odb.db.inTransaction) odb.commit.run();
    } finally {
      // A commit deferred while the closure ran is asked for again.
      batch.leaveClosure();
    }
  }
}
