/**
 * The user-facing `DurableObjectStorage` (what an object sees as
 * `ctx.storage`), built once over a provider's primitives: argument
 * validation, serialization and the transaction protocol live here, so
 * every storage provider behaves the same.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { TorporError } from "../errors.ts";
import type { DurableObjectListOptions, DurableObjectStorage, DurableObjectTransaction, SqlStorage, SyncKvStorage } from "./storage.ts";
import type { StorageHooks } from "./storage-provider.ts";
import { argumentTypeError, workerdError } from "../errors.ts";
import { finishTransaction, isRolledBack, StorageTransaction } from "./storage-transaction.ts";
import { isThenable } from "../thenable.ts";
import {
  asyncTransactionSyncError,
  checkKeyCount,
  checkOptions,
  normalizeListOptions,
  serializeValue,
  validateAlarmTime,
  validateKey,
  type NormalizedListOptions,
  type StorageLimits,
} from "./storage-validation.ts";

/** The settled result every successful put returns. */
const DONE: Promise<void> = Promise.resolve();

/**
 * One object's storage engine as {@link createStorageApi} uses it: the
 * primitives a provider implements over its own data structures. Arguments
 * arrive validated (keys checked, key counts within limits, values
 * serialized); writes go into the provider's open batch.
 * @typeParam Savepoint what {@link StorageBackend.beginTransaction} returns
 * for {@link StorageBackend.endTransaction} to close.
 */
export interface StorageBackend<Savepoint = unknown> {
  /** The runtime's hooks: `flush` serves `sync()`, `holdInput` gates `transaction()`. */
  readonly hooks: Pick<StorageHooks, "flush" | "holdInput" | "runningAlarm" | "now">;
  /** Throws the storage-closed error once this object's storage is closed. */
  check(): void;
  /** The value stored under `key`, deserialized; `undefined` if there is none. */
  get(key: string): unknown;
  /** The stored entries among `keys` (distinct), deserialized, in key order. */
  getMany(keys: ReadonlySet<string>): Map<string, unknown>;
  /** Writes `entries` (serialized values); does nothing when empty. */
  put(entries: [string, Buffer][]): void;
  /** Writes one serialized value (the common single-key put, without an entries array). */
  putOne(key: string, value: Buffer): void;
  /** Deletes `keys` (distinct); returns how many of them existed. */
  delete(keys: string[]): number;
  /** The entries `options` selects, deserialized, in list order. */
  list(options: NormalizedListOptions): [string, unknown][];
  /** Deletes every key and the alarm (and whatever else the provider stores for the object). */
  deleteAll(): void;
  /** The scheduled alarm time in ms since the epoch, or `null`. */
  getAlarm(): number | null;
  /** Sets (a validated time) or deletes (`null`) the alarm. */
  setAlarm(time: number | null): void;
  /**
   * Opens a transaction scope (throwing if closed). `async` is true for a
   * `transaction()` closure, which may span turns, false for `transactionSync()`.
   */
  beginTransaction(async: boolean): Savepoint;
  /**
   * Closes the scope `savepoint` opened: its writes stay in the batch if
   * `keep`, are rolled back otherwise. `async` is what was passed to
   * {@link StorageBackend.beginTransaction}.
   */
  endTransaction(savepoint: Savepoint, keep: boolean, async: boolean): void;
  /** What `storage.sql` returns; throws where the provider has no SQL API. */
  sql(): SqlStorage;
  /**
   * The open batch can no longer be committed as its writers saw it: fail it
   * (storage calls throw `error` until the runtime rolls back; `commit()`
   * throws). Called when a rolled-back `transaction()` took other events'
   * writes with it.
   */
  batchLost(error: TorporError): void;
}

/**
 * The async `transaction()` closures the running code is inside (innermost
 * last). A write made outside an open closure (by another event that
 * resumed while it awaited) lands inside its savepoint all the same.
 */
const transactionScope = new AsyncLocalStorage<readonly object[]>();

/** Builds the `DurableObjectStorage` API over `backend`, enforcing `limits`. */
export function createStorageApi<Savepoint>(backend: StorageBackend<Savepoint>, limits: StorageLimits): DurableObjectStorage {
  /** Async transaction() closures open on this storage; `foreign` once another event wrote inside one. */
  const open: Array<{ token: object; foreign: boolean }> = [];
  const noteWrite = (): void => {
    if (open.length === 0) return;
    const scope = transactionScope.getStore();
    for (const t of open) if (scope === undefined || !scope.includes(t.token)) t.foreign = true;
  };
  const kv: SyncKvStorage = {
    get: <T>(key: string): T | undefined => {
      backend.check();
      return backend.get(validateKey(key, limits)) as T | undefined;
    },
    put: <T>(key: string, value: T): void => {
      backend.check();
      noteWrite();
      validateKey(key, limits);
      backend.putOne(key, serializeValue(key, value, limits));
    },
    delete: (key: string): boolean => {
      backend.check();
      noteWrite();
      return backend.delete([validateKey(key, limits)]) === 1;
    },
    list: <T>(options?: DurableObjectListOptions): Iterable<[string, T]> => {
      backend.check();
      return backend.list(normalizeListOptions(options, "SyncKvStorage")) as [string, T][];
    },
  };

  function transactionSync<T>(closure: () => T): T {
    if (typeof closure !== "function") throw argumentTypeError("transactionSync", "DurableObjectStorage", 1, "function");
    const savepoint = backend.beginTransaction(false);
    let result: T;
    try {
      result = closure();
    } catch (err) {
      backend.endTransaction(savepoint, false, false);
      throw err;
    }
    if (isThenable(result)) {
      backend.endTransaction(savepoint, false, false);
      // The refused promise's outcome is reported by the error thrown here.
      Promise.resolve(result).then(undefined, () => {});
      throw asyncTransactionSyncError();
    }
    backend.endTransaction(savepoint, true, false);
    return result;
  }

  async function transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T> {
    if (typeof closure !== "function") throw argumentTypeError("transaction", "DurableObjectStorage", 1, "function");
    const savepoint = backend.beginTransaction(true);
    const entry = { token: {}, foreign: false };
    open.push(entry);
    const scope = [...(transactionScope.getStore() ?? []), entry.token];
    const end = (keep: boolean): void => {
      open.splice(open.indexOf(entry), 1);
      backend.endTransaction(savepoint, keep, true);
      if (!keep && entry.foreign) {
        // Another event's writes were inside this savepoint and are gone with it:
        // the batch must fail, so nothing acknowledges them.
        backend.batchLost(
          new TorporError(
            "ERR_STORAGE_BATCH_LOST",
            "A transaction() rolled back while another event's writes were inside it; the whole batch is rolled back and the object will be reset.",
          ),
        );
      }
    };
    const txn = new StorageTransaction(storage);
    let result: T;
    try {
      result = await transactionScope.run(scope, closure, txn as unknown as DurableObjectTransaction);
    } catch (err) {
      finishTransaction(txn);
      end(false);
      throw err;
    }
    const keep = !isRolledBack(txn);
    finishTransaction(txn);
    end(keep);
    return result;
  }

  let sql: SqlStorage | undefined;
  const api = {
    async get(keyOrKeys: string | string[], options?: unknown): Promise<unknown> {
      backend.check();
      checkOptions(options, "get", 2, "GetOptions");
      if (Array.isArray(keyOrKeys)) {
        checkKeyCount(keyOrKeys.length, "get", limits);
        for (const k of keyOrKeys) validateKey(k, limits);
        return backend.getMany(new Set(keyOrKeys.map((k) => validateKey(k, limits))));
      }
      return backend.get(validateKey(keyOrKeys, limits));
    },
    // Not `async`: puts are the hottest storage call, and the work is synchronous, so every
    // successful put shares one settled promise instead of allocating its own.
    put(keyOrEntries: string | Record<string, unknown>, value?: unknown, options?: unknown): Promise<void> {
      try {
        backend.check();
        noteWrite();
        if (keyOrEntries === null || typeof keyOrEntries !== "object") {
          // workerd: put(key, value[, options]); the key is converted to a string.
          const key = validateKey(keyOrEntries, limits);
          if (value === undefined) throw workerdError(TypeError, "ERR_STORAGE_UNDEFINED_VALUE", "put() called with undefined value.");
          checkOptions(options, "put", 3, "PutOptions");
          backend.putOne(key, serializeValue(key, value, limits));
          return DONE;
        }
        // put(entries[, options]): the second argument, if any, must be the options.
        if (value !== undefined && (value === null || typeof value !== "object")) {
          throw workerdError(
            TypeError,
            "ERR_INVALID_ARGUMENT",
            "put() may only be called with a single key-value pair and optional options as put(key, value, options) or with multiple key-value pairs and optional options as put(entries, options)",
          );
        }
        // Entries whose value is undefined are skipped, as on workerd.
        const entries = Object.entries(keyOrEntries).filter(([, v]) => v !== undefined);
        checkKeyCount(entries.length, "put", limits);
        // Serialize everything first: one bad value must not leave half the entries written.
        backend.put(entries.map(([k, v]) => [validateKey(k, limits), serializeValue(k, v, limits)]));
        return DONE;
      } catch (error) {
        return Promise.reject(error);
      }
    },
    async delete(keyOrKeys: string | string[], options?: unknown): Promise<boolean | number> {
      backend.check();
      checkOptions(options, "delete", 2, "PutOptions");
      noteWrite();
      if (Array.isArray(keyOrKeys)) {
        checkKeyCount(keyOrKeys.length, "delete", limits);
        // Cloudflare counts the keys actually deleted: a repeated key counts once.
        return backend.delete([...new Set(keyOrKeys.map((k) => validateKey(k, limits)))]);
      }
      return backend.delete([validateKey(keyOrKeys, limits)]) === 1;
    },
    async list(options?: DurableObjectListOptions): Promise<Map<string, unknown>> {
      backend.check();
      return new Map(backend.list(normalizeListOptions(options, "DurableObjectStorage")));
    },
    async deleteAll(): Promise<void> {
      noteWrite();
      backend.deleteAll();
    },
    transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T> {
      if (typeof closure !== "function") return Promise.reject(argumentTypeError("transaction", "DurableObjectStorage", 1, "function"));
      return backend.hooks.holdInput(transaction(closure));
    },
    transactionSync,
    async getAlarm(options?: unknown): Promise<number | null> {
      backend.check();
      checkOptions(options, "getAlarm", 1, "GetAlarmOptions");
      const time = backend.getAlarm();
      return time !== null && time === backend.hooks.runningAlarm?.() ? null : time;
    },
    async setAlarm(scheduledTime: number | Date): Promise<void> {
      backend.check();
      noteWrite();
      const time = validateAlarmTime(scheduledTime);
      const now = backend.hooks.now?.();
      backend.setAlarm(now === undefined ? time : Math.max(time, now));
    },
    async deleteAlarm(): Promise<void> {
      backend.check();
      noteWrite();
      backend.setAlarm(null);
    },
    sync(): Promise<void> {
      return backend.hooks.flush();
    },
    get sql(): SqlStorage {
      backend.sql();
      // A statement may write: note it for an open transaction() of another event.
      return (sql ??= {
        // Rest arguments: sql.exec() with no argument is workerd's TypeError, not the SQL "undefined".
        exec: (...args: [query: string, ...bindings: unknown[]]) => {
          noteWrite();
          return backend.sql().exec(...args);
        },
        get databaseSize() {
          return backend.sql().databaseSize;
        },
      } as SqlStorage);
    },
    kv,
  };
  const storage = api as unknown as DurableObjectStorage;
  return storage;
}
