/**
 * What a worker of a multi-machine node adds to a plain cluster worker: its
 * own connections to the cluster database, the commit pipeline and the
 * storage provider (the PostgreSQL log, or this node's disk with
 * `--durability local`), the output fence, and the alarms of slots the node
 * takes over.
 */
import { join } from "node:path";
import type { Logger, Runtime, StorageProvider } from "@torpor/core";
import { LogShipper, ObjectLog, openClusterDb, postgresStorage, type ClusterDb, type PostgresStorageProvider } from "@torpor/postgres";
import { sqliteStorage, type SqliteStorageProvider } from "@torpor/storage-sqlite";
import type { NodeTable } from "./node-membership.ts";
import { readDeadline, type DeadlineSource } from "./node-deadline-file.ts";
import { NodeFence } from "./node-fence.ts";

/** What the supervisor tells a worker about its node. */
export interface NodeInit {
  url: string;
  durability: "postgres" | "local";
  table: NodeTable;
  /** Where the supervisor writes each new deadline (the fence reads it before it closes). */
  deadlines?: DeadlineSource;
}

/** A worker's node-side state. */
export interface NodeWorker {
  readonly fence: NodeFence;
  readonly storage: StorageProvider;
  /** The SQLite files on this machine the storage works through (the same provider with local durability). */
  readonly local: SqliteStorageProvider;
  /** The latest table from the supervisor. */
  table: NodeTable;
  /** A new table: the deadline moved, slots moved between nodes. */
  update(table: NodeTable): void;
  /** The supervisor gave `slots` to this process: their objects' alarms are armed (from PostgreSQL). */
  acquired(slots: number[], runtime: Runtime): void;
  /** The objects of `slots` were closed (handed over): forget their claims and cached files. */
  forgetSlots(slots: ReadonlySet<number>): void;
  close(): Promise<void>;
}

/** Connects this worker to the cluster database and builds its storage. */
export async function startNodeWorker(init: NodeInit, index: number, persistTo: string, logger: Logger): Promise<NodeWorker> {
  const deadlines = init.deadlines;
  const fence = new NodeFence(init.table.deadline, deadlines === undefined ? undefined : () => readDeadline(deadlines));
  let db: ClusterDb | null = null;
  let log: ObjectLog | null = null;
  let storage: StorageProvider;
  let local: SqliteStorageProvider;
  let replicated: PostgresStorageProvider | null = null;
  let table = init.table;
  if (init.durability === "postgres") {
    db = await openClusterDb({ url: init.url, poolSize: 4 });
    log = new ObjectLog(db);
    const shipper = new LogShipper(log, { canAcknowledge: () => fence.valid(), logger });
    storage = replicated = postgresStorage({
      dir: join(persistTo, "cache", `worker-${index}`),
      nodeId: table.nodeId,
      log,
      shipper,
      slotEpoch: (slot) => (worker.table.slots[slot] === index ? worker.table.epochs[slot]! : null),
      logger,
    });
    local = replicated.local;
  } else {
    storage = local = sqliteStorage({ dir: join(persistTo, "do") });
  }
  const worker: NodeWorker = {
    fence,
    storage,
    local,
    get table() {
      return table;
    },
    set table(next: NodeTable) {
      table = next;
    },
    update(next) {
      table = next;
      fence.update(next.deadline);
    },
    acquired(slots, runtime) {
      // With local durability the worker arms them from its own alarm index (as any cluster worker does).
      if (log === null || slots.length === 0) return;
      // Alarms of objects in slots this process took: armed from PostgreSQL, without restoring each object.
      log.alarms(slots).then(
        (alarms) => {
          for (const { key, alarm } of alarms) runtime.hostForKey(key, true).alarms.schedule(alarm);
        },
        (error: unknown) => logger.error("Reading the alarms of slots taken over failed", { slots: slots.length, error }),
      );
    },
    forgetSlots(slots) {
      replicated?.forgetSlots(slots);
    },
    async close() {
      await db?.close();
    },
  };
  return worker;
}
