/**
 * The storage provider of a node with `--durability postgres`: each object
 * runs on a local SQLite file (the SQLite provider, unchanged API), and its
 * durable copy is its log in PostgreSQL.
 *
 * - Before an object is constructed (`prepare`), the node claims it under a
 *   new epoch (it must hold the object's slot) and rebuilds the local file
 *   from the latest snapshot and the log after it. The claim stays valid
 *   across hibernation while the node keeps the slot, so a wake costs nothing.
 * - After each local commit, the pages the commit appended to the WAL are
 *   read back ({@link WalTail}) and shipped; the commit is acknowledged (the
 *   output gate opens) only once its fenced append committed in PostgreSQL.
 * - A commit that fails its fence marks the claim failed: the object is reset
 *   and the next activation claims and restores again (the local file holds
 *   the refused commit, so it is thrown away).
 * - On hibernation, once the log since the last snapshot is large enough, the
 *   closed file (checkpointed by SQLite's close) becomes the new snapshot and
 *   the log behind it is deleted.
 *
 * The local directory is a cache: it is emptied at start (a file written
 * before a crash may hold a commit PostgreSQL never got).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { TorporError, type Logger, silentLogger, type StorageLimits } from "@torpor/core";
import { slotOf } from "@torpor/core/cluster";
import type { ObjectKey, ObjectStorage, PendingAlarm, StorageHooks, StorageProvider } from "@torpor/core/storage";
import { sqliteStorage, type SqliteStorageProvider } from "@torpor/storage-sqlite";
import { type LogShipper, LogStream } from "./log-shipper.ts";
import { objectKeyString, type ObjectLog } from "./object-log.ts";
import { applyRecords, decodeRecord } from "./page-record.ts";
import { WalTail } from "./wal-tail.ts";

/** Options of {@link postgresStorage}. */
export interface PostgresStorageOptions {
  /** The local cache directory (execution copies). Emptied at start. */
  dir: string;
  /** This node's id (recorded as the claiming owner). */
  nodeId: string;
  log: ObjectLog;
  shipper: LogShipper;
  /** The epoch at which this node holds `slot`, or null when it does not hold it. */
  slotEpoch(slot: number): number | null;
  /** Log bytes since the last snapshot after which a hibernating object writes a new snapshot. Default 1 MiB. */
  snapshotAfterBytes?: number;
  /**
   * Log bytes since the last snapshot after which a snapshot is made while the object stays live (rebuilt from
   * PostgreSQL's own snapshot and log, off the object's path). Default 16 MiB.
   */
  compactAfterBytes?: number;
  limits?: Partial<StorageLimits>;
  logger?: Logger;
}

/** The provider, with what the node needs to manage claims. */
export interface PostgresStorageProvider extends StorageProvider {
  /** Objects claimed by this node (live or hibernated). */
  readonly claimed: number;
  /** Forgets the claims of objects in `slots` (the node gave them up or lost them); their local files are removed. */
  forgetSlots(slots: ReadonlySet<number>): void;
  /** Snapshots being written (for tests and shutdown). */
  snapshotsSettled(): Promise<void>;
  /**
   * The execution copies on this machine's disk (a cache of what PostgreSQL
   * holds): readiness probes it, since every commit goes through it first.
   */
  readonly local: SqliteStorageProvider;
}

interface Claimed {
  readonly key: ObjectKey;
  readonly stream: LogStream;
  readonly tail: WalTail;
  readonly path: string;
}

/**
 * Creates the provider.
 * @example
 * const storage = postgresStorage({ dir: ".torpor/cache", nodeId, log, shipper, slotEpoch: (s) => slots.owned.get(s) ?? null });
 */
export function postgresStorage(options: PostgresStorageOptions): PostgresStorageProvider {
  const logger = options.logger ?? silentLogger;
  const snapshotAfterBytes = options.snapshotAfterBytes ?? 1 << 20;
  const compactAfterBytes = options.compactAfterBytes ?? 16 << 20;
  /** Objects whose log is being folded into a snapshot while they stay live. */
  const compacting = new Set<string>();
  rmSync(options.dir, { recursive: true, force: true });
  // No fsync: the local file is a cache, rebuilt from PostgreSQL after any crash. Closed databases are not kept
  // open, so a hibernated object's file is complete (checkpointed) and can become a snapshot.
  const inner: SqliteStorageProvider = sqliteStorage({ dir: options.dir, synchronous: "OFF", maxOpenDatabases: 0, limits: options.limits ?? {} });
  const claims = new Map<string, Claimed>();
  const preparing = new Map<string, Promise<void>>();
  const snapshots = new Set<Promise<void>>();

  const activate = async (key: ObjectKey): Promise<void> => {
    const k = objectKeyString(key);
    const slot = slotOf(key.id);
    const slotEpoch = options.slotEpoch(slot);
    if (slotEpoch === null) throw notHeld(key, slot);
    const claim = await options.log.claim(key, slot, slotEpoch, options.nodeId);
    if (claim === null) throw notHeld(key, slot);
    const path = inner.databasePath(key)!;
    removeFiles(path);
    let logBytes = 0;
    if (claim.head > 0) {
      const stored = await options.log.load(key);
      if (stored.head !== claim.head) throw new Error(`log of ${key.namespace}/${key.id} moved during restore (head ${stored.head}, claimed at ${claim.head})`);
      writeFileSync(path, stored.snapshot ?? Buffer.alloc(0));
      applyRecords(path, stored.records.map(decodeRecord));
      for (const r of stored.records) logBytes += r.length;
    }
    inner.replaced(key, claim.alarm);
    const stream = new LogStream(key, claim.epoch, claim.head);
    stream.logBytes = logBytes;
    claims.set(k, { key, stream, tail: new WalTail(path), path });
  };

  const snapshot = (c: Claimed) => {
    const { stream } = c;
    if (stream.failed !== null || stream.pending !== null || stream.inflight || stream.logBytes < snapshotAfterBytes || !existsSync(c.path)) return;
    // The file was checkpointed by SQLite's close and every commit in it is durable: it is the database as of `head`.
    const image = readFileSync(c.path);
    const seq = stream.head;
    const logged = stream.logBytes;
    const job = options.log
      .snapshot(c.key, stream.epoch, seq, image)
      .then((written) => {
        if (written) stream.logBytes = Math.max(0, stream.logBytes - logged);
      })
      .catch((error: unknown) => logger.warn("Snapshot failed; the log stays until the next one", { object: c.key.id, error }))
      .finally(() => snapshots.delete(job));
    snapshots.add(job);
  };

  /**
   * A live object's log grew past compactAfterBytes: its latest snapshot and log are read back from PostgreSQL,
   * applied to a scratch file, and stored as the snapshot at that head (under the fence), so the log stays short
   * even for an object that never hibernates. Runs beside the object; a failure only leaves the log longer.
   */
  const compact = (c: Claimed) => {
    const k = objectKeyString(c.key);
    if (c.stream.logBytes < compactAfterBytes || compacting.has(k) || c.stream.failed !== null) return;
    compacting.add(k);
    const scratch = `${c.path}.compact`;
    const job = (async () => {
      const stored = await options.log.load(c.key);
      writeFileSync(scratch, stored.snapshot ?? Buffer.alloc(0));
      applyRecords(scratch, stored.records.map(decodeRecord));
      const logged = stored.records.reduce((n, r) => n + r.length, 0);
      if (await options.log.snapshot(c.key, c.stream.epoch, stored.head, readFileSync(scratch))) {
        c.stream.logBytes = Math.max(0, c.stream.logBytes - logged);
      }
    })()
      .catch((error: unknown) => logger.warn("Compacting a live object's log failed; it stays until the next try", { object: c.key.id, error }))
      .finally(() => {
        rmSync(scratch, { force: true });
        compacting.delete(k);
        snapshots.delete(job);
      });
    snapshots.add(job);
  };

  return {
    get claimed() {
      return claims.size;
    },
    prepare(key: ObjectKey): Promise<void> | null {
      const k = objectKeyString(key);
      const claimed = claims.get(k);
      if (claimed !== undefined && claimed.stream.failed === null) return null;
      let pending = preparing.get(k);
      if (pending === undefined) {
        claimed?.tail.close();
        claims.delete(k);
        pending = activate(key).finally(() => preparing.delete(k));
        preparing.set(k, pending);
      }
      return pending;
    },
    open(key: ObjectKey, hooks: StorageHooks): ObjectStorage {
      const claimed = claims.get(objectKeyString(key));
      if (claimed === undefined || claimed.stream.failed !== null) {
        throw new TorporError("ERR_STORAGE_OPEN", `${key.namespace}/${key.name ?? key.id} is not claimed by this node (prepare() first).`);
      }
      claimed.tail.reset();
      return new ReplicatedStorage(
        inner.open(key, hooks),
        claimed,
        options.shipper,
        logger,
        () => snapshot(claimed),
        () => compact(claimed),
      );
    },
    listAlarms(): PendingAlarm[] {
      // Alarms are armed per slot when the node takes it (the objects table), not from the local cache.
      return [];
    },
    listObjects(namespace: string): ObjectKey[] {
      return [...claims.values()].filter((c) => c.key.namespace === namespace && c.stream.head > 0).map((c) => c.key);
    },
    forgetSlots(slots: ReadonlySet<number>): void {
      for (const [k, c] of claims) {
        if (!slots.has(slotOf(c.key.id))) continue;
        c.tail.close();
        claims.delete(k);
        removeFiles(c.path);
      }
    },
    async snapshotsSettled(): Promise<void> {
      while (snapshots.size > 0) await Promise.all(snapshots);
    },
    local: inner,
    close(): void {
      for (const c of claims.values()) c.tail.close();
      inner.close();
    },
  };
}

/** One open object: the SQLite storage, with each commit's pages shipped before it counts as durable. */
class ReplicatedStorage implements ObjectStorage {
  readonly #inner: ObjectStorage;
  readonly #claimed: Claimed;
  readonly #shipper: LogShipper;
  readonly #logger: Logger;
  readonly #closed: () => void;
  readonly #shipped: () => void;

  constructor(inner: ObjectStorage, claimed: Claimed, shipper: LogShipper, logger: Logger, closed: () => void, shipped: () => void) {
    this.#inner = inner;
    this.#claimed = claimed;
    this.#shipper = shipper;
    this.#logger = logger;
    this.#closed = closed;
    this.#shipped = shipped;
  }

  get api() {
    return this.#inner.api;
  }

  get hasPendingWrites(): boolean {
    return this.#inner.hasPendingWrites;
  }

  get inClosure(): boolean {
    return this.#inner.inClosure === true;
  }

  commitAsync(): Promise<void> | null {
    // The SQLite provider runs without fsync here: its commit ends the batch locally and returns at once.
    this.#inner.commit();
    // Deferred (a transaction() closure is open): the batch is still open, and null with pending writes tells the
    // output gate to keep holding; the commit is asked for again when the closure ends. Shipping now would return
    // a promise for what was committed before (a fresh database's schema, say), which the gate would take for this
    // batch and release output that depends on the closure's writes. Those earlier pages stay in the WAL and go with
    // the next record (the tail reads everything committed since its last read).
    if (this.#inner.hasPendingWrites) return null;
    return this.#ship();
  }

  commit(): void {
    this.#background(this.commitAsync());
  }

  rollback(): void {
    this.#inner.rollback();
  }

  refuseRelease(): Error | null {
    // Asked by the output gate in the same synchronous step as the release: the last check before output leaves.
    return this.#shipper.refusal();
  }

  alarmTime(): number | null {
    return this.#inner.alarmTime();
  }

  clearAlarmIfUnchanged(scheduledTime: number): void {
    this.#inner.clearAlarmIfUnchanged(scheduledTime);
    this.#background(this.#ship());
  }

  close(): void {
    try {
      // A closure still open (left running by a timer or waitUntil(), or a constructor that threw) cannot be
      // shipped: its commit is deferred until it ends, and SQLite's close would commit it locally, then checkpoint
      // and delete the WAL. The claim outlives the close, so the next activation here would run on a file holding
      // writes PostgreSQL never got, and ship later pages on top of it. Nothing of the batch was acknowledged:
      // it is dropped, as PostgreSQL drops it. What was committed before it still ships (the tail reads it).
      if (this.#inner.inClosure === true) {
        this.#inner.rollback();
        this.#background(this.#ship());
      } else {
        // Capture the last commit before SQLite's close checkpoints and deletes the WAL.
        this.commit();
      }
    } finally {
      this.#inner.close();
      // SQLite deleted the WAL: the next open makes a new file (and a hibernated object holds no descriptor).
      this.#claimed.tail.close();
      this.#closed();
    }
  }

  /** Reads the pages committed since the last read and ships them; null when nothing was committed. */
  #ship(): Promise<void> | null {
    const record = this.#claimed.tail.read();
    if (record === null) return null;
    return this.#shipper.ship(this.#claimed.stream, record, this.#inner.alarmTime()).then(this.#shipped);
  }

  /** A commit nobody awaits (close, alarm cleanup): its failure marks the claim failed, so the next wake restores. */
  #background(shipped: Promise<void> | null): void {
    shipped?.catch((error: unknown) => this.#logger.warn("A background commit could not be made durable; the object will be restored", { error }));
  }
}

function notHeld(key: ObjectKey, slot: number): TorporError {
  return new TorporError(
    "ERR_OBJECT_NOT_LOCAL",
    `${key.namespace}/${key.name ?? key.id} is in slot ${slot}, which this node does not hold (now); the call goes to its owner.`,
  );
}

function removeFiles(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true });
}
