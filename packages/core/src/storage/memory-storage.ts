/**
 * An in-memory storage provider: the same contract as the SQLite one (write
 * batches, rollback, transactions, alarms) without a disk, for tests and for
 * objects that need no persistence. Data survives an object's close/reopen
 * (hibernation) for as long as the provider lives.
 */
import type { DurableObjectStorage } from "./storage.ts";
import type { ObjectKey, ObjectStorage, PendingAlarm, StorageHooks, StorageProvider } from "./storage-provider.ts";
import { TorporError } from "../errors.ts";
import { createStorageApi, type StorageBackend } from "./storage-api.ts";
import { commitFailed, WriteBatch } from "./write-batch.ts";
import { compareKeys, deserializeValue, prefixUpperBound, resolveStorageLimits, type NormalizedListOptions, type StorageLimits } from "./storage-validation.ts";

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

class MemoryObjectStorage implements ObjectStorage, StorageBackend<number> {
  readonly api: DurableObjectStorage;
  readonly #data: ObjectData;
  readonly hooks: StorageHooks;
  readonly #beforeCommit: ((key: ObjectKey) => void) | undefined;
  /** Undo log of the open batch; a savepoint is a length of it. */
  #undo: Undo[] = [];
  /** Write-started signal, closure depth, deferred commit, lost batch (the protocol every provider shares). */
  readonly #batch: WriteBatch;

  constructor(data: ObjectData, hooks: StorageHooks, limits: StorageLimits, beforeCommit?: (key: ObjectKey) => void) {
    this.#data = data;
    this.hooks = hooks;
    this.#beforeCommit = beforeCommit;
    this.#batch = new WriteBatch(hooks);
    this.api = createStorageApi(this, limits);
  }

  get hasPendingWrites(): boolean {
    return this.#batch.open;
  }

  get inClosure(): boolean {
    return this.#batch.depth > 0;
  }

  get #label(): string {
    return `${this.#data.key.namespace}/${this.#data.key.id}`;
  }

  commit(): void {
    if (this.#batch.beginCommit(() => this.rollback(), this.#label) !== "commit") return;
    try {
      this.#beforeCommit?.(this.#data.key);
    } catch (cause) {
      this.rollback();
      throw commitFailed(this.#label, cause);
    }
    this.#undo = [];
    this.#batch.committed();
  }

  rollback(): void {
    this.#rollbackTo(0);
    this.#batch.rolledBack();
  }

  alarmTime(): number | null {
    return this.#data.alarm;
  }

  clearAlarmIfUnchanged(scheduledTime: number): void {
    if (this.#data.alarm === scheduledTime) this.setAlarm(null);
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
    }
  }

  // --- StorageBackend: the primitives createStorageApi builds `api` on ------

  check(): void {
    this.#batch.check();
  }

  batchLost(error: TorporError): void {
    this.#batch.lose(error);
  }

  getAlarm(): number | null {
    return this.#data.alarm;
  }

  sql(): never {
    throw new TorporError(
      "ERR_SQL_UNAVAILABLE",
      "SQL storage needs @torpor/storage-sqlite; this object uses the in-memory provider. Pass storage: sqliteStorage({ dir }) to the runtime, or use the KV API.",
    );
  }

  #beginWrite(): void {
    this.#batch.check();
    this.#batch.started();
  }

  get(key: string): unknown {
    const bytes = this.#data.values.get(key);
    return bytes === undefined ? undefined : deserializeValue(bytes);
  }

  getMany(keys: ReadonlySet<string>): Map<string, unknown> {
    const found = [...keys].filter((k) => this.#data.values.has(k)).sort(compareKeys);
    return new Map(found.map((k) => [k, this.get(k)]));
  }

  put(entries: [string, Buffer][]): void {
    if (entries.length === 0) return;
    this.#beginWrite();
    for (const [k, v] of entries) this.#write(k, v);
  }

  putOne(key: string, value: Buffer): void {
    this.#beginWrite();
    this.#write(key, value);
  }

  delete(keys: string[]): number {
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

  list(o: NormalizedListOptions): [string, unknown][] {
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
      out.push([k, this.get(k)]);
    }
    return out;
  }

  setAlarm(time: number | null): void {
    if (this.#data.alarm === time) return;
    this.#beginWrite();
    this.#undo.push({ kind: "alarm", prev: this.#data.alarm });
    this.#data.alarm = time;
    this.hooks.alarmChanged();
  }

  deleteAll(): void {
    this.#beginWrite();
    const d = this.#data;
    this.#undo.push({ kind: "all", keys: d.keys, values: d.values, alarm: d.alarm });
    const hadAlarm = d.alarm !== null;
    d.keys = [];
    d.values = new Map();
    d.alarm = null;
    if (hadAlarm) this.hooks.alarmChanged();
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
    if (alarmTouched && !this.#batch.closed) this.hooks.alarmChanged();
  }

  /** A transaction's savepoint: the undo log's length when it began. */
  beginTransaction(_async: boolean): number {
    this.#batch.check();
    this.#batch.enterClosure();
    return this.#undo.length;
  }

  endTransaction(mark: number, keep: boolean, _async: boolean): void {
    try {
      if (!keep) this.#rollbackTo(mark);
    } finally {
      this.#batch.leaveClosure();
    }
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
