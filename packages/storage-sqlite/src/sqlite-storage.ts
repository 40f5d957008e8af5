/**
 * The SQLite storage provider: one database per object at
 * `<dir>/<namespace>/<id>.sqlite` (WAL), created by the object's first write,
 * and an alarm index at `<dir>/_alarms.sqlite`. A hibernated object's
 * database is closed (no file handles) unless `maxOpenDatabases` keeps a few
 * open for faster wakes.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { TorporError, type StorageLimits, type StorageProvider } from "@torpor/core";
import { resolveStorageLimits, type ObjectKey, type ObjectStorage, type PendingAlarm, type StorageHooks } from "@torpor/core/storage";
import { AlarmIndex } from "./alarm-index.ts";
import { DatabaseSlot, type SlotContext } from "./database-slot.ts";
import { ObjectDatabase } from "./object-database.ts";
import { resolveSqliteStorageOptions, type ResolvedSqliteStorageOptions, type SqliteStorageOptions } from "./options.ts";
import { SqliteObjectStorage } from "./sqlite-object-storage.ts";
import { probeStorage } from "./storage-probe.ts";
import { backupObjects, type BackupOptions, type BackupReport } from "./directory-backup.ts";
import { fsyncPath } from "./wal-sync.ts";

/** A storage provider backed by SQLite files (or in-memory databases). */
export interface SqliteStorageProvider extends StorageProvider {
  /** The file of an object's database (`<dir>/<namespace>/<id>.sqlite`), created on its first write; null for `":memory:"`. */
  databasePath(key: ObjectKey): string | null;
  /**
   * For providers layered on this one (the PostgreSQL log): the object's
   * database file was replaced from outside while the object was closed (a
   * restore). Forgets any cached handle of it and records its alarm in the
   * alarm index, which a wake asks before opening the file.
   */
  replaced(key: ObjectKey, alarm: number | null): void;
  /** The options in force, defaults filled in. */
  readonly options: Readonly<ResolvedSqliteStorageOptions>;
  /** Object databases currently open: those of live objects that touched storage, plus the cached handles of hibernated ones. */
  readonly openDatabaseCount: number;
  /** Null when storage works right now (a scratch database opens and the alarm index answers), else why not. See storage-probe.ts. */
  probe(): string | null;
  /**
   * Copies every object database to the same place under `dest` while the
   * objects keep serving, each at a batch boundary (a copy never holds half
   * a batch). See directory-backup.ts and object-snapshot.ts.
   */
  backup(dest: string, options?: BackupOptions): Promise<BackupReport>;
}

const HEX_ID = /^[0-9a-f]{64}$/;
const FILE = /^([0-9a-f]{64})\.sqlite$/;

/**
 * Creates a SQLite storage provider.
 * @example
 * const runtime = createRuntime({ storage: sqliteStorage({ dir: "./data" }) });
 */
export function sqliteStorage(options?: SqliteStorageOptions): SqliteStorageProvider {
  const resolved = resolveSqliteStorageOptions(options);
  const limits: StorageLimits = resolveStorageLimits(resolved.limits);
  const inMemory = resolved.dir === ":memory:";
  const synced = !inMemory && resolved.synchronous !== "OFF";
  if (!inMemory) makeDir(resolved.dir, synced);
  const index = new AlarmIndex(inMemory ? ":memory:" : join(resolved.dir, "_alarms.sqlite"), resolved.synchronous);
  /** Slots in use by open storages. */
  const live = new Map<string, DatabaseSlot>();
  /** Open databases of closed (hibernated) objects, least recently closed first. */
  const idle = new Map<string, DatabaseSlot>();
  let empty: ObjectDatabase | null = null;
  // FULL is kept by fsyncing each commit's WAL ourselves (wal-sync.ts), which lets commits of
  // many objects overlap; SQLite itself then runs at NORMAL (still syncing at checkpoints).
  const syncWal = !inMemory && resolved.synchronous === "FULL";
  const context: SlotContext = {
    inMemory,
    synchronous: syncWal ? "NORMAL" : resolved.synchronous,
    syncWal,
    index,
    empty: () => (empty ??= new ObjectDatabase(":memory:", resolved.synchronous)),
    unsynced: new Set(),
  };
  /** Each namespace's directory, made once (and `${dir}/` joined once: this runs for every object opened). */
  const knownDirs = new Map<string, string>();
  let closed = false;

  const location = (key: ObjectKey): string => {
    if (inMemory) return `${key.namespace}\u0000${key.id}`;
    let prefix = knownDirs.get(key.namespace);
    if (prefix === undefined) {
      const dir = join(resolved.dir, namespaceDir(key.namespace));
      makeDir(dir, synced);
      prefix = `${dir}${sep}`;
      knownDirs.set(key.namespace, prefix);
    }
    // For an id of 64 hex digits (every id open() accepts) this is what join() would make.
    return HEX_ID.test(key.id) ? `${prefix}${key.id}.sqlite` : join(prefix, `${key.id}.sqlite`);
  };

  const release = (slot: DatabaseSlot) => {
    if (--slot.refs > 0 || live.get(slot.where) !== slot) return;
    live.delete(slot.where);
    // No database was ever needed: nothing to keep.
    if (slot.odb === null) return;
    if (closed) {
      slot.close();
      return;
    }
    idle.set(slot.where, slot);
    // In-memory databases are the data itself: never evict them.
    if (inMemory) return;
    while (idle.size > resolved.maxOpenDatabases) {
      const [oldest, cached] = idle.entries().next().value!;
      idle.delete(oldest);
      cached.close();
    }
  };

  return {
    options: resolved,
    get openDatabaseCount() {
      let n = idle.size;
      for (const slot of live.values()) if (slot.odb !== null) n++;
      return n;
    },
    probe(): string | null {
      if (closed) return "the storage provider is closed";
      return inMemory ? null : probeStorage(resolved.dir, index);
    },
    backup(dest: string, options?: BackupOptions): Promise<BackupReport> {
      if (closed) return Promise.reject(new TorporError("ERR_STORAGE_CLOSED", "This sqliteStorage() provider is closed; create a new one."));
      if (inMemory) return Promise.reject(new TorporError("ERR_BACKUP_FAILED", "An in-memory sqliteStorage() has no files to back up."));
      const openOn = (file: string) => (live.get(file) ?? idle.get(file))?.odb ?? null;
      return backupObjects(resolved.dir, dest, { openOn, synchronous: context.synchronous }, options);
    },
    open(key: ObjectKey, hooks: StorageHooks): ObjectStorage {
      if (closed) throw new TorporError("ERR_STORAGE_CLOSED", "This sqliteStorage() provider is closed; create a new one.");
      if (typeof key.id !== "string" || !HEX_ID.test(key.id)) {
        throw new TorporError(
          "ERR_INVALID_ID",
          `Object id ${JSON.stringify(key.id)} is not 64 lowercase hex characters. Use an id from the namespace (idFromName, newUniqueId).`,
        );
      }
      const where = location(key);
      let slot = live.get(where);
      if (slot === undefined) {
        slot = idle.get(where);
        if (slot !== undefined) idle.delete(where);
        // Nothing is opened or created here: the slot opens the file when the object reads or writes.
        else slot = new DatabaseSlot(where, { namespace: key.namespace, id: key.id, name: key.name }, context);
        live.set(where, slot);
      }
      slot.refs++;
      const opened = slot;
      return new SqliteObjectStorage(opened, hooks, limits, index, () => release(opened));
    },
    listAlarms(): PendingAlarm[] {
      return index.listAlarms();
    },
    databasePath(key: ObjectKey): string | null {
      return inMemory ? null : location(key);
    },
    replaced(key: ObjectKey, alarm: number | null): void {
      const where = location(key);
      if (live.has(where)) throw new TorporError("ERR_STORAGE_OPEN", `The storage of ${key.namespace}/${key.id} is open; it cannot be replaced.`);
      const cached = idle.get(where);
      if (cached !== undefined) {
        idle.delete(where);
        cached.close();
      }
      if (alarm === null) index.deleteAlarm(key);
      else index.setAlarm(key, alarm);
    },
    listObjects(namespace: string): ObjectKey[] {
      let ids: string[];
      if (inMemory) {
        const prefix = `${namespace}\u0000`;
        const written = [...live.values(), ...idle.values()].filter((slot) => slot.odb !== null).map((slot) => slot.where);
        ids = [...new Set(written)].filter((w) => w.startsWith(prefix)).map((w) => w.slice(prefix.length));
      } else {
        const dir = join(resolved.dir, namespaceDir(namespace));
        ids = existsSync(dir) ? readdirSync(dir).flatMap((f) => FILE.exec(f)?.[1] ?? []) : [];
      }
      const names = index.names(namespace);
      return ids.sort().map((id) => {
        const name = names.get(id);
        return name === undefined ? { namespace, id } : { namespace, id, name };
      });
    },
    close(): void {
      if (closed) return;
      closed = true;
      for (const slot of idle.values()) slot.close();
      idle.clear();
      for (const slot of live.values()) slot.close();
      live.clear();
      empty?.close();
      index.close();
    },
  };
}

/** Where an object's database file is (or would be) under a provider's `dir`. */
export function objectFilePath(dir: string, namespace: string, id: string): string {
  return join(dir, namespaceDir(namespace), `${id}.sqlite`);
}

/**
 * Creates `dir` (and missing parents). A new directory's name is durable only
 * once its parent directory is fsynced: without that, a power loss can take
 * the namespace directory, and every object file in it, although the files
 * and their WALs were synced.
 */
function makeDir(dir: string, durable: boolean): void {
  const first = mkdirSync(dir, { recursive: true });
  if (first === undefined || !durable) return;
  for (let made = dir; ; made = dirname(made)) {
    fsyncPath(dirname(made));
    if (made === first || dirname(made) === made) break;
  }
}

/** A namespace as one safe path segment. */
function namespaceDir(namespace: string): string {
  if (typeof namespace !== "string" || namespace === "") {
    throw new TorporError("ERR_INVALID_OPTIONS", `Storage namespace ${JSON.stringify(namespace)} must be a non-empty string (the binding's class name).`);
  }
  return encodeURIComponent(namespace).replaceAll(".", "%2E");
}
