/**
 * One object's storage on its SQLite database: the Cloudflare API run
 * synchronously, each batch of writes in one open transaction that the
 * runtime commits at the end of the turn.
 */
import type Database from "better-sqlite3";
import {
  TorporError,
  asyncTransactionSyncError,
  checkKeyCount,
  compareKeys,
  deserializeValue,
  isThenable,
  normalizeListOptions,
  prefixUpperBound,
  serializeValue,
  storageClosedError,
  validateAlarmTime,
  validateKey,
  type DurableObjectListOptions,
  type DurableObjectStorage,
  type DurableObjectTransaction,
  type NormalizedListOptions,
  type ObjectKey,
  type ObjectStorage,
  type SqlStorage,
  type StorageHooks,
  type StorageLimits,
  type SyncKvStorage,
} from "@torpor/core";
import type { AlarmIndex } from "./alarm-index.ts";
import type { ObjectDatabase } from "./object-database.ts";
import { createSqlStorage } from "./sql-storage.ts";

/** @internal made by `sqliteStorage().open()`. */
export class SqliteObjectStorage implements ObjectStorage {
  readonly api: DurableObjectStorage;
  readonly #odb: ObjectDatabase;
  readonly #key: ObjectKey;
  readonly #hooks: StorageHooks;
  readonly #limits: StorageLimits;
  readonly #index: AlarmIndex;
  readonly #onClose: () => void;
  /** `writeStarted` was called for the open transaction. */
  #signalled = false;
  #alarmChanged = false;
  /** transactionSync/transaction closures running; commits wait for them. */
  #depth = 0;
  #commitDeferred = false;
  #closed = false;

  constructor(odb: ObjectDatabase, key: ObjectKey, hooks: StorageHooks, limits: StorageLimits, index: AlarmIndex, onClose: () => void) {
    this.#odb = odb;
    this.#key = key;
    this.#hooks = hooks;
    this.#limits = limits;
    this.#index = index;
    this.#onClose = onClose;
    this.api = this.#makeApi();
  }

  get hasPendingWrites(): boolean {
    return this.#signalled;
  }

  commit(): void {
    const odb = this.#odb;
    if (this.#closed || !odb.db.inTransaction) {
      this.#signalled = false;
      return;
    }
    if (this.#depth > 0) {
      // A transaction closure is still running: committing now would make
      // half of it durable. Ask again when it settles (#leave).
      this.#commitDeferred = true;
      return;
    }
    const alarmChanged = this.#alarmChanged;
    try {
      if (alarmChanged) {
        // Index before commit: a crash in between leaves a stale extra entry, never a lost alarm.
        const t = this.#readAlarm();
        if (t !== null) this.#index.setAlarm(this.#key, t);
      }
      odb.commit.run();
    } catch (cause) {
      if (odb.db.inTransaction) odb.rollback.run();
      this.#signalled = false;
      this.#alarmChanged = false;
      if (alarmChanged) this.#hooks.alarmChanged();
      throw new TorporError(
        "ERR_STORAGE_COMMIT_FAILED",
        `Commit of ${this.#key.namespace}/${this.#key.id} failed and its batch was rolled back: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    this.#signalled = false;
    this.#alarmChanged = false;
    if (alarmChanged && this.#readAlarm() === null) this.#index.deleteAlarm(this.#key);
  }

  rollback(): void {
    if (this.#closed) return;
    if (this.#odb.db.inTransaction) this.#odb.rollback.run();
    this.#signalled = false;
    this.#commitDeferred = false;
    if (this.#alarmChanged) {
      this.#alarmChanged = false;
      this.#hooks.alarmChanged();
    }
  }

  alarmTime(): number | null {
    this.#check();
    return this.#readAlarm();
  }

  clearAlarmIfUnchanged(scheduledTime: number): void {
    this.#check();
    if (this.#readAlarm() !== scheduledTime) return;
    if (this.#odb.db.inTransaction) {
      this.#odb.metaDelete.run("alarm");
      this.#alarmChanged = true;
      this.#signalled = true;
      this.commit();
    } else {
      this.#odb.metaDelete.run("alarm");
      this.#index.deleteAlarm(this.#key);
    }
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.#depth = 0;
      this.#commitDeferred = false;
      this.commit();
    } finally {
      this.#closed = true;
      this.#onClose();
    }
  }

  // --- synchronous engine -------------------------------------------------

  #check(): void {
    if (this.#closed) throw storageClosedError();
  }

  #beginWrite(): void {
    this.#check();
    if (!this.#odb.db.inTransaction) this.#odb.begin.run();
    if (!this.#signalled) {
      this.#signalled = true;
      this.#hooks.writeStarted();
    }
  }

  #readAlarm(): number | null {
    const row = this.#odb.metaGet.get("alarm");
    return row === undefined || row.value === null ? null : Number(row.value);
  }

  #getOne(key: string): unknown {
    const row = this.#odb.kvGet.get(key);
    return row === undefined ? undefined : deserializeValue(row.value);
  }

  #getMany(keys: string[]): Map<string, unknown> {
    checkKeyCount(keys.length, "get", this.#limits);
    for (const k of keys) validateKey(k, this.#limits);
    const found: [string, unknown][] = [];
    for (const k of new Set(keys)) {
      const row = this.#odb.kvGet.get(k);
      if (row !== undefined) found.push([k, row.value]);
    }
    found.sort((a, b) => compareKeys(a[0], b[0]));
    return new Map(found.map(([k, v]) => [k, deserializeValue(v as Buffer)]));
  }

  #putMany(entries: [string, Buffer][]): void {
    if (entries.length === 0) return;
    this.#beginWrite();
    const put = this.#odb.kvPut;
    for (const [k, v] of entries) put.run(k, v);
  }

  #deleteMany(keys: string[]): number {
    if (keys.length === 0) return 0;
    this.#beginWrite();
    let n = 0;
    const del = this.#odb.kvDelete;
    for (const k of keys) n += del.run(k).changes;
    return n;
  }

  #list(o: NormalizedListOptions): [string, unknown][] {
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

  #setAlarm(time: number | null): void {
    if (time === null) {
      this.#check();
      if (this.#readAlarm() === null) return;
      this.#beginWrite();
      this.#odb.metaDelete.run("alarm");
    } else {
      this.#beginWrite();
      this.#odb.metaPut.run("alarm", time);
    }
    this.#alarmChanged = true;
    this.#hooks.alarmChanged();
  }

  /** Cloudflare's deleteAll on SQLite-backed objects: KV data, user tables and the alarm. */
  #deleteAll(): void {
    this.#beginWrite();
    const odb = this.#odb;
    odb.kvDeleteAll.run();
    if (this.#readAlarm() !== null) {
      odb.metaDelete.run("alarm");
      this.#alarmChanged = true;
      this.#hooks.alarmChanged();
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

  #enter(): boolean {
    this.#check();
    const began = !this.#odb.db.inTransaction;
    if (began) this.#odb.begin.run();
    this.#odb.savepoint.run();
    this.#depth++;
    return began;
  }

  #leave(began: boolean, ok: boolean): void {
    this.#depth--;
    const odb = this.#odb;
    if (this.#closed) return;
    if (!ok) odb.rollbackTo.run();
    odb.release.run();
    // A transaction that wrote nothing must not leave an empty one open.
    if (began && !this.#signalled && this.#depth === 0 && odb.db.inTransaction) odb.commit.run();
    if (this.#depth === 0 && this.#commitDeferred) {
      this.#commitDeferred = false;
      // The runtime's commit came while a closure ran; ask for another.
      if (this.#signalled) this.#hooks.writeStarted();
    }
  }

  #transactionSync<T>(closure: () => T): T {
    const began = this.#enter();
    let result: T;
    try {
      result = closure();
    } catch (err) {
      this.#leave(began, false);
      throw err;
    }
    if (isThenable(result)) {
      this.#leave(began, false);
      // The refused promise's outcome is reported by the error thrown here.
      Promise.resolve(result).then(undefined, () => {});
      throw asyncTransactionSyncError();
    }
    this.#leave(began, true);
    return result;
  }

  async #transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T> {
    const began = this.#enter();
    let rolledBack = false;
    const api = this.api;
    const txn: DurableObjectTransaction = {
      get: api.get.bind(api) as DurableObjectTransaction["get"],
      put: api.put.bind(api) as DurableObjectTransaction["put"],
      delete: api.delete.bind(api) as DurableObjectTransaction["delete"],
      list: api.list.bind(api),
      getAlarm: api.getAlarm.bind(api),
      setAlarm: api.setAlarm.bind(api),
      deleteAlarm: api.deleteAlarm.bind(api),
      rollback: () => {
        rolledBack = true;
      },
    };
    let result: T;
    try {
      result = await closure(txn);
    } catch (err) {
      this.#leave(began, false);
      throw err;
    }
    this.#leave(began, !rolledBack);
    return result;
  }

  // --- the user-facing API --------------------------------------------------

  #makeApi(): DurableObjectStorage {
    const limits = this.#limits;
    const self = this;
    const kv: SyncKvStorage = {
      get: <T>(key: string): T | undefined => {
        self.#check();
        return self.#getOne(validateKey(key, limits)) as T | undefined;
      },
      put: <T>(key: string, value: T): void => {
        self.#check();
        validateKey(key, limits);
        self.#putMany([[key, serializeValue(key, value, limits)]]);
      },
      delete: (key: string): boolean => {
        self.#check();
        return self.#deleteMany([validateKey(key, limits)]) === 1;
      },
      list: <T>(options?: DurableObjectListOptions): Iterable<[string, T]> => {
        self.#check();
        return self.#list(normalizeListOptions(options, limits)) as [string, T][];
      },
    };
    const sql = createSqlStorage({
      database: () => {
        self.#check();
        return self.#odb;
      },
      beginWrite: () => self.#beginWrite(),
    });
    const api = {
      async get(keyOrKeys: string | string[]): Promise<unknown> {
        self.#check();
        if (Array.isArray(keyOrKeys)) return self.#getMany(keyOrKeys);
        return self.#getOne(validateKey(keyOrKeys, limits));
      },
      async put(keyOrEntries: string | Record<string, unknown>, value?: unknown): Promise<void> {
        self.#check();
        if (typeof keyOrEntries === "string") {
          validateKey(keyOrEntries, limits);
          self.#putMany([[keyOrEntries, serializeValue(keyOrEntries, value, limits)]]);
          return;
        }
        if (keyOrEntries === null || typeof keyOrEntries !== "object") validateKey(keyOrEntries, limits);
        const entries = Object.entries(keyOrEntries);
        checkKeyCount(entries.length, "put", limits);
        // Serialize everything first: one bad value must not leave half the entries written.
        self.#putMany(entries.map(([k, v]) => [validateKey(k, limits), serializeValue(k, v, limits)]));
      },
      async delete(keyOrKeys: string | string[]): Promise<boolean | number> {
        self.#check();
        if (Array.isArray(keyOrKeys)) {
          checkKeyCount(keyOrKeys.length, "delete", limits);
          for (const k of keyOrKeys) validateKey(k, limits);
          return self.#deleteMany([...new Set(keyOrKeys)]);
        }
        return self.#deleteMany([validateKey(keyOrKeys, limits)]) === 1;
      },
      async list(options?: DurableObjectListOptions): Promise<Map<string, unknown>> {
        self.#check();
        return new Map(self.#list(normalizeListOptions(options, limits)));
      },
      async deleteAll(): Promise<void> {
        self.#deleteAll();
      },
      transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T> {
        return self.#hooks.holdInput(self.#transaction(closure));
      },
      transactionSync<T>(closure: () => T): T {
        return self.#transactionSync(closure);
      },
      async getAlarm(): Promise<number | null> {
        self.#check();
        return self.#readAlarm();
      },
      async setAlarm(scheduledTime: number | Date): Promise<void> {
        self.#check();
        self.#setAlarm(validateAlarmTime(scheduledTime));
      },
      async deleteAlarm(): Promise<void> {
        self.#setAlarm(null);
      },
      sync(): Promise<void> {
        return self.#hooks.flush();
      },
      get sql(): SqlStorage {
        self.#check();
        return sql;
      },
      kv,
    };
    return api as unknown as DurableObjectStorage;
  }
}
