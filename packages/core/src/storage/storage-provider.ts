/**
 * The storage contract between the runtime and a storage provider
 * (exported as `@torpor/core/storage`, not from the main entry).
 *
 * Core owns the turn boundaries (when to commit), the output gate (holding
 * sends and responses until a commit is durable) and alarm scheduling. A
 * provider owns bytes on disk: it runs the user-facing API synchronously,
 * buffers each batch of writes in one open transaction, and tells core when a
 * batch starts so core can schedule the commit at the end of the turn.
 *
 * A provider is written against this contract (memory, SQLite, and any
 * third one, such as a PostgreSQL-backed provider):
 * 1. `open(key, hooks)` returns an `ObjectStorage` whose `api` is
 *    `createStorageApi(backend, limits)` over the provider's primitives
 *    (`StorageBackend`), and which keeps a `WriteBatch` (write-batch.ts):
 *    call `batch.check()` first in every primitive, `batch.started()` after
 *    every write joined the open batch, `enterClosure()`/`leaveClosure()`
 *    around `beginTransaction`/`endTransaction`, and `batch.lose(error)` when
 *    the open batch can no longer commit as written.
 * 2. `commit()` / `commitAsync()` start with `batch.beginCommit()` and do
 *    nothing unless it says `"commit"`; a failed commit rolls back and throws
 *    `ERR_STORAGE_COMMIT_FAILED` (`commitFailed()`); a successful one calls
 *    `batch.committed()`.
 * 3. Durability: `commit()` returns only once the batch is durable;
 *    `commitAsync()` returns (synchronously, the batch ended and visible to
 *    reads) a promise that resolves once it is durable and rejects if it
 *    cannot become so. Core acknowledges nothing of the batch, nor of any
 *    later batch of the object, before that promise resolved, and resets the
 *    object when it rejects. Once a promise rejected, the provider must not
 *    let a later commit of the object resolve on top of data that may not be
 *    on disk (see docs/architecture.md, "fsync failure").
 * 4. Alarms: `hooks.alarmChanged()` when the batch changes the alarm;
 *    `alarmTime()` reads it (pending batch included); `listAlarms()` may list
 *    extra or earlier alarms than stored (the runtime re-reads before
 *    running), never a later or missing one.
 * The conformance suite (`@torpor/testing`'s storage-conformance) runs
 * against every provider.
 */
import type { DurableObjectStorage } from "./storage.ts";

/** Which object a storage belongs to. `namespace` is the binding's storage name. */
export interface ObjectKey {
  readonly namespace: string;
  /** 64 lowercase hex characters. */
  readonly id: string;
  /** The name the id was derived from, when known. */
  readonly name?: string | undefined;
}

/** Callbacks from a provider's per-object storage into the runtime. */
export interface StorageHooks {
  /**
   * Called by the storage on the first write of a new batch (no batch open).
   * The runtime closes the object's output gate and schedules `commit()` at
   * the end of the current turn.
   */
  writeStarted(): void;
  /**
   * Called when the persisted alarm changes within the open batch (`null`:
   * deleted). The runtime re-reads `alarmTime()` after commit to schedule it.
   */
  alarmChanged(): void;
  /** Commits now (used by `sync()`); resolves once durable, rejects if the commit failed. */
  flush(): Promise<void>;
  /**
   * Holds the object's input gate while `promise` is pending (Cloudflare's
   * rule: no other event is delivered while a storage operation is pending).
   */
  holdInput<T>(promise: Promise<T>): Promise<T>;
  /**
   * The scheduled time of the alarm whose `alarm()` is running, or null:
   * `getAlarm()` reports that alarm as null, as workerd does.
   */
  runningAlarm?(): number | null;
  /** The runtime's clock: `setAlarm()` with a time in the past schedules it for now, as workerd does. */
  now?(): number;
}

/** One object's storage, opened when the object is constructed and closed when it hibernates. */
export interface ObjectStorage {
  /** What the object sees as `ctx.storage`. */
  readonly api: DurableObjectStorage;
  /** True while a batch of writes is open (not yet durable). */
  readonly hasPendingWrites: boolean;
  /**
   * True while a `transaction()`/`transactionSync()` closure runs: a commit
   * now would be deferred (`WriteBatch.depth > 0`). A subrequest made inside
   * the closure then waits only for the batches already committed. A provider
   * composing `WriteBatch` returns its `depth > 0`; one that leaves it out
   * makes such a subrequest wait for the closure's own batch, which cannot
   * commit before the closure ends (a deadlock).
   */
  readonly inClosure?: boolean;
  /**
   * Makes the open batch durable (synchronously). On failure it rolls the
   * batch back and throws; nothing of that batch is visible afterwards.
   */
  commit(): void;
  /**
   * Optional: ends the open batch now (throwing, rolled back, as `commit()`
   * does) and returns a promise that resolves once it is durable, or null
   * when it already is. The runtime then holds the batch's output until the
   * promise resolves, and commits of many objects can overlap.
   */
  commitAsync?(): Promise<void> | null;
  /**
   * Optional: asked by the output gate right before it releases output held
   * behind durable commits, in the same synchronous step as the release.
   * An error means that output must not leave (a cluster node past its
   * lease deadline: another node may own the object by now): the gate drops
   * it, rejects its waiters with this error as it is (their commits may be
   * durable: say so in it) and resets the object. Null: release.
   */
  refuseRelease?(): Error | null;
  /** Discards the open batch (used when the object is reset). */
  rollback(): void;
  /** The persisted alarm time in ms since the epoch, or null (committed or pending batch). */
  alarmTime(): number | null;
  /**
   * Deletes the alarm if it is still `scheduledTime` (after a successful
   * `alarm()` run), as a write of the open batch (opening one if needed): the
   * runtime commits it at once, and it is durable, like any write, before
   * anything relies on it being gone.
   */
  clearAlarmIfUnchanged(scheduledTime: number): void;
  /**
   * Commits anything pending and releases file handles. Safe to call twice.
   * With a `transaction()` closure still open, the open batch is rolled back
   * instead (the closure has not ended, so nothing of the batch was
   * acknowledged; the conformance suite checks it).
   */
  close(): void;
}

/** A persisted alarm, as listed at start-up. */
export interface PendingAlarm {
  readonly key: ObjectKey;
  readonly scheduledTime: number;
}

/** Creates per-object storage. One provider serves a whole runtime. */
export interface StorageProvider {
  /**
   * Optional: work that must finish before `open(key)` may run, such as
   * claiming the object and restoring its data from a remote log. Returns
   * null when there is none (the common case, allocating nothing). The
   * runtime calls it before constructing the object's instance (first start
   * and every wake) and keeps the object's events queued until the promise
   * settles; a rejection fails them as a failed `open()` does
   * (`ERR_STORAGE_OPEN`).
   */
  prepare?(key: ObjectKey): Promise<void> | null;
  /** Opens (or creates) the storage of one object. */
  open(key: ObjectKey, hooks: StorageHooks): ObjectStorage;
  /** Every persisted alarm across all objects, without opening each object. */
  listAlarms(): PendingAlarm[];
  /** Ids of every object with stored data in `namespace` (for `listDurableObjectIds`). */
  listObjects(namespace: string): ObjectKey[];
  /** Releases everything (after every object storage is closed). */
  close(): void;
}
