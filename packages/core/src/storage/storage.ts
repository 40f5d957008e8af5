/**
 * The storage API a Durable Object sees (`ctx.storage`), with Cloudflare's
 * names. The contract a storage provider implements is in
 * `storage-provider.ts` (exported as `@torpor/core/storage`).
 */

/** Options accepted by `get`, `put`, `delete` on Cloudflare; accepted and ignored where they only tune caching. */
export interface DurableObjectGetOptions {
  allowConcurrency?: boolean;
  noCache?: boolean;
}
export interface DurableObjectPutOptions {
  allowConcurrency?: boolean;
  allowUnconfirmed?: boolean;
  noCache?: boolean;
}
/** `list()` options, with Cloudflare's names and meaning. */
export interface DurableObjectListOptions {
  start?: string;
  startAfter?: string;
  end?: string;
  prefix?: string;
  reverse?: boolean;
  limit?: number;
  allowConcurrency?: boolean;
  noCache?: boolean;
}
export interface DurableObjectSetAlarmOptions {
  allowConcurrency?: boolean;
  allowUnconfirmed?: boolean;
}

/** A cursor over the rows of one `sql.exec` call (Cloudflare's `SqlStorageCursor`). */
export interface SqlStorageCursor<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>> extends Iterable<T> {
  next(): IteratorResult<T>;
  toArray(): T[];
  one(): T;
  raw<U extends SqlStorageValue[] = SqlStorageValue[]>(): IterableIterator<U>;
  readonly columnNames: string[];
  readonly rowsRead: number;
  readonly rowsWritten: number;
}
export type SqlStorageValue = ArrayBuffer | string | number | null;

/** `ctx.storage.sql` (Cloudflare's `SqlStorage`). */
export interface SqlStorage {
  exec<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T>;
  readonly databaseSize: number;
}

/** `ctx.storage.kv`: the synchronous KV API of SQLite-backed objects. */
export interface SyncKvStorage {
  get<T = unknown>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
  delete(key: string): boolean;
  list<T = unknown>(options?: Omit<DurableObjectListOptions, "allowConcurrency" | "noCache">): Iterable<[string, T]>;
}

/** The transaction handle passed to `storage.transaction(fn)`. */
export interface DurableObjectTransaction {
  get<T = unknown>(key: string, options?: DurableObjectGetOptions): Promise<T | undefined>;
  get<T = unknown>(keys: string[], options?: DurableObjectGetOptions): Promise<Map<string, T>>;
  put<T>(key: string, value: T, options?: DurableObjectPutOptions): Promise<void>;
  put<T>(entries: Record<string, T>, options?: DurableObjectPutOptions): Promise<void>;
  delete(key: string, options?: DurableObjectPutOptions): Promise<boolean>;
  delete(keys: string[], options?: DurableObjectPutOptions): Promise<number>;
  list<T = unknown>(options?: DurableObjectListOptions): Promise<Map<string, T>>;
  rollback(): void;
  getAlarm(options?: DurableObjectGetOptions): Promise<number | null>;
  setAlarm(scheduledTime: number | Date, options?: DurableObjectSetAlarmOptions): Promise<void>;
  deleteAlarm(options?: DurableObjectSetAlarmOptions): Promise<void>;
}

/** `ctx.storage`, with Cloudflare's names and semantics (`DurableObjectStorage`). */
export interface DurableObjectStorage {
  get<T = unknown>(key: string, options?: DurableObjectGetOptions): Promise<T | undefined>;
  get<T = unknown>(keys: string[], options?: DurableObjectGetOptions): Promise<Map<string, T>>;
  put<T>(key: string, value: T, options?: DurableObjectPutOptions): Promise<void>;
  put<T>(entries: Record<string, T>, options?: DurableObjectPutOptions): Promise<void>;
  delete(key: string, options?: DurableObjectPutOptions): Promise<boolean>;
  delete(keys: string[], options?: DurableObjectPutOptions): Promise<number>;
  list<T = unknown>(options?: DurableObjectListOptions): Promise<Map<string, T>>;
  deleteAll(options?: DurableObjectPutOptions): Promise<void>;
  transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T>;
  transactionSync<T>(closure: () => T): T;
  getAlarm(options?: DurableObjectGetOptions): Promise<number | null>;
  setAlarm(scheduledTime: number | Date, options?: DurableObjectSetAlarmOptions): Promise<void>;
  deleteAlarm(options?: DurableObjectSetAlarmOptions): Promise<void>;
  /** Resolves once every write made so far is durable. */
  sync(): Promise<void>;
  readonly sql: SqlStorage;
  readonly kv: SyncKvStorage;
}
