/**
 * An in-memory storage provider: the same contract as the SQLite one (write
 * batches, rollback, transactions, alarms) without a disk, for tests and for
 * objects that need no persistence. Data survives an object's close/reopen
 * (hibernation) for as long as the provider lives.
 */
import type {
  DurableObjectListOptions,
  DurableObjectStorage,
  DurableObjectTransaction,
  ObjectKey,
  ObjectStorage,
  PendingAlarm,
  SqlStorage,
  StorageHooks,
  StorageProvider,
  SyncKvStorage,
} from "./storage.ts";
import { TorporError } from "./errors.ts";
import {
  asyncTransactionSyncError,
  checkKeyCount,
  compareKeys,
  deserializeValue,
  isThenable,
  normalizeListOptions,
  prefixUpperBound,
  resolveStorageLimits,
  serializeValue,
  storageClosedError,
  validateAlarmTime,
  validateKey,
  type NormalizedListOptions,
  type StorageLimits,
} from "./storage-validation.ts";

/** Options of {@link memoryStorage}. */
export interface MemoryStorageOptions {
  /** Storage limits; Cloudflare's by default. */
  limits?: Partial<StorageLimits>;
  /**
   * Called before each commit; throwing from it makes that commit fail (the
   * batch is rolled back). For fault-injection tests.
   */
  beforeCommit?: (key: ObjectKey) => void;
}

/**
 * Creates an in-memory storage provider.
 * @example
 * const runtime = createRuntime({ storage: memoryStorage() });
 */
export function memoryStorage(options: MemoryStorageOptions = {}): StorageProvider {
  const limits = resolveStorageLimits(options.limits);
  const objects = new Map<string, ObjectData>();
  return {
    open(key: ObjectKey, hooks: StorageHooks): ObjectStorage {
      const mapKey = `${key.namespace}\u0000${key.id}`;
      let data = objects.get(mapKey);
      if (data === undefined) {
        data = { key: { namespace: key.namespace, id: key.id, name: key.name }, keys: [], values: new Map(), alarm: null };
        objects.set(mapKey, data);
      } else if (key.name !== undefined && data.key.name === undefined) {
        data.key = { ...data.key, name: key.name };
      }
      return new MemoryObjectStorage(data, hooks, limits, options.beforeCommit);
    },
    listAlarms(): PendingAlarm[] {
      const out: PendingAlarm[] = [];
      for (const d of objects.values()) if (d.alarm !== null) out.push({ key: d.key, scheduledTime: d.alarm });
      return out;
    },
    listObjects(namespace: string): ObjectKey[] {
      return [...objects.values()].filter((d) => d.key.namespace === namespace).map((d) => d.key);
    },
    close(): void {},
  };
}

interface ObjectData {
  key: ObjectKey;
  /** Sorted in UTF-8 byte order. */
  keys: string[];
  values: Map<string, Buffer>;
  alarm: number | null;
}

type Undo =
  | { kind: "kv"; key: string; prev: Buffer | undefined }
  | { kind: "alarm"; prev: number | null }
  | { kind: "all"; keys: string[]; values: Map<string, Buffer>; alarm: number | null };

class MemoryObjectStorage implements ObjectStorage {
  readonly api: DurableObjectStorage;
  readonly #data: ObjectData;
  readonly #hooks: StorageHooks;
  readonly #limits: StorageLimits;
  readonly #beforeCommit: ((key: ObjectKey) => void) | undefined;
  /** Undo log of the open batch; a savepoint is a length of it. */
  #undo: Undo[] = [];
  #batchOpen = false;
  #closed = false;
  /** Async `transaction()` closures running; commits wait for them. */
  #activeTransactions = 0;
  #commitDeferred = false;

  constructor(data: ObjectData, hooks: StorageHooks, limits: StorageLimits, beforeCommit?: (key: ObjectKey) => void) {
    this.#data = data;
    this.#hooks = hooks;
    this.#limits = limits;
    this.#beforeCommit = beforeCommit;
    this.api = this.#makeApi();
  }

  get hasPendingWrites(): boolean {
    return this.#batchOpen;
  }

  commit(): void {
    if (!this.#batchOpen) return;
    if (this.#activeTransactions > 0) {
      // A transaction() closure is still running: its writes must not become
      // durable half-way. Commit when it settles (see #endTransaction).
      this.#commitDeferred = true;
      return;
    }
    try {
      this.#beforeCommit?.(this.#data.key);
    } catch (cause) {
      this.rollback();
      throw new TorporError("ERR_STORAGE_COMMIT_FAILED", `Commit failed, the batch was rolled back: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    this.#undo = [];
    this.#batchOpen = false;
  }

  rollback(): void {
    this.#rollbackTo(0);
    this.#batchOpen = false;
    this.#commitDeferred = false;
  }

  alarmTime(): number | null {
    return this.#data.alarm;
  }

  clearAlarmIfUnchanged(scheduledTime: number): void {
    if (this.#data.alarm !== scheduledTime) return;
    if (this.#batchOpen) {
      this.#setAlarm(null);
      this.commit();
    } else {
      this.#data.alarm = null;
    }
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.#activeTransactions = 0;
      this.commit();
    } finally {
      this.#closed = true;
    }
  }

  // --- synchronous engine -------------------------------------------------

  #check(): void {
    if (this.#closed) throw storageClosedError();
  }

  #beginWrite(): void {
    this.#check();
    if (!this.#batchOpen) {
      this.#batchOpen = true;
      this.#hooks.writeStarted();
    }
  }

  #getOne(key: string): unknown {
    const bytes = this.#data.values.get(key);
    return bytes === undefined ? undefined : deserializeValue(bytes);
  }

  #getMany(keys: string[]): Map<string, unknown> {
    checkKeyCount(keys.length, "get", this.#limits);
    for (const k of keys) validateKey(k, this.#limits);
    const found = [...new Set(keys)].filter((k) => this.#data.values.has(k)).sort(compareKeys);
    return new Map(found.map((k) => [k, this.#getOne(k)]));
  }

  #putMany(entries: [string, Buffer][]): void {
    if (entries.length === 0) return;
    this.#beginWrite();
    for (const [k, v] of entries) this.#write(k, v);
  }

  #deleteMany(keys: string[]): number {
    let n = 0;
    for (const k of keys) {
      if (!this.#data.values.has(k)) continue;
      this.#beginWrite();
      this.#write(k, undefined);
      n++;
    }
    return n;
  }

  #write(key: string, value: Buffer | undefined): void {
    const prev = this.#data.values.get(key);
    this.#undo.push({ kind: "kv", key, prev });
    this.#apply(key, value, prev !== undefined);
  }

  #apply(key: string, value: Buffer | undefined, existed: boolean): void {
    const { keys, values } = this.#data;
    if (value === undefined) {
      if (!existed) return;
      values.delete(key);
      keys.splice(lowerBound(keys, key), 1);
    } else {
      if (!existed) keys.splice(lowerBound(keys, key), 0, key);
      values.set(key, value);
    }
  }

  #list(o: NormalizedListOptions): [string, unknown][] {
    const keys = this.#data.keys;
    let lo = 0;
    let hi = keys.length;
    for (const b of [o.start, o.startAfter, o.prefix]) if (b !== undefined) lo = Math.max(lo, lowerBound(keys, b));
    const upper = o.prefix === undefined ? undefined : prefixUpperBound(o.prefix);
    for (const b of [o.end, upper]) if (b !== undefined) hi = Math.min(hi, lowerBound(keys, b));
    const out: [string, unknown][] = [];
    const limit = o.limit ?? Infinity;
    for (let i = o.reverse ? hi - 1 : lo; out.length < limit && (o.reverse ? i >= lo : i < hi); i += o.reverse ? -1 : 1) {
      const k = keys[i]!;
      if (k === o.startAfter) continue;
      out.push([k, this.#getOne(k)]);
    }
    return out;
  }

  #setAlarm(time: number | null): void {
    if (this.#data.alarm === time) return;
    this.#beginWrite();
    this.#undo.push({ kind: "alarm", prev: this.#data.alarm });
    this.#data.alarm = time;
    this.#hooks.alarmChanged();
  }

  #deleteAll(): void {
    this.#beginWrite();
    const d = this.#data;
    this.#undo.push({ kind: "all", keys: d.keys, values: d.values, alarm: d.alarm });
    const hadAlarm = d.alarm !== null;
    d.keys = [];
    d.values = new Map();
    d.alarm = null;
    if (hadAlarm) this.#hooks.alarmChanged();
  }

  #rollbackTo(mark: number): void {
    const d = this.#data;
    let alarmTouched = false;
    while (this.#undo.length > mark) {
      const u = this.#undo.pop()!;
      if (u.kind === "kv") {
        this.#apply(u.key, u.prev, d.values.has(u.key));
      } else if (u.kind === "alarm") {
        d.alarm = u.prev;
        alarmTouched = true;
      } else {
        d.keys = u.keys;
        d.values = u.values;
        if (d.alarm !== u.alarm) alarmTouched = true;
        d.alarm = u.alarm;
      }
    }
    if (alarmTouched && !this.#closed) this.#hooks.alarmChanged();
  }

  #transactionSync<T>(closure: () => T): T {
    this.#check();
    const mark = this.#undo.length;
    let result: T;
    try {
      result = closure();
    } catch (err) {
      this.#rollbackTo(mark);
      throw err;
    }
    if (isThenable(result)) {
      this.#rollbackTo(mark);
      // The refused promise's outcome is reported by the error thrown here.
      Promise.resolve(result).then(undefined, () => {});
      throw asyncTransactionSyncError();
    }
    return result;
  }

  async #transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T> {
    this.#check();
    const mark = this.#undo.length;
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
    this.#activeTransactions++;
    try {
      const result = await closure(txn);
      if (rolledBack) this.#rollbackTo(mark);
      return result;
    } catch (err) {
      this.#rollbackTo(mark);
      throw err;
    } finally {
      this.#endTransaction();
    }
  }

  #endTransaction(): void {
    if (this.#activeTransactions > 0) this.#activeTransactions--;
    if (this.#activeTransactions === 0 && this.#commitDeferred) {
      this.#commitDeferred = false;
      // The runtime's commit came while the closure ran; ask for another.
      if (this.#batchOpen) this.#hooks.writeStarted();
    }
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
          return self.#deleteMany(keyOrKeys);
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
        return self.#data.alarm;
      },
      async setAlarm(scheduledTime: number | Date): Promise<void> {
        self.#check();
        self.#setAlarm(validateAlarmTime(scheduledTime));
      },
      async deleteAlarm(): Promise<void> {
        self.#check();
        self.#setAlarm(null);
      },
      sync(): Promise<void> {
        return self.#hooks.flush();
      },
      get sql(): SqlStorage {
        throw new TorporError(
          "ERR_SQL_UNAVAILABLE",
          "SQL storage needs @torpor/storage-sqlite; this object uses the in-memory provider. Pass storage: sqliteStorage({ dir }) to the runtime, or use the KV API.",
        );
      },
      kv,
    };
    return api as unknown as DurableObjectStorage;
  }
}

/** Index of the first key not less than `key` (byte order). */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
