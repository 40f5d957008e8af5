/**
 * The SQLite storage provider: one database per object at
 * `<dir>/<namespace>/<id>.sqlite` (WAL), an alarm index at
 * `<dir>/_alarms.sqlite`, and a bounded cache of handles of hibernated
 * objects so waking is fast and file handles stay bounded.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TorporError, type StorageLimits, type StorageProvider } from "@torpor/core";
import { resolveStorageLimits, type ObjectKey, type ObjectStorage, type PendingAlarm, type StorageHooks } from "@torpor/core/storage";
import { AlarmIndex } from "./alarm-index.ts";
import { ObjectDatabase } from "./object-database.ts";
import { resolveSqliteStorageOptions, type ResolvedSqliteStorageOptions, type SqliteStorageOptions } from "./options.ts";
import { SqliteObjectStorage } from "./sqlite-object-storage.ts";

/** A storage provider backed by SQLite files (or in-memory databases). */
export interface SqliteStorageProvider extends StorageProvider {
  /** The options in force, defaults filled in. */
  readonly options: Readonly<ResolvedSqliteStorageOptions>;
  /** Object databases currently open: those of live objects plus the cached handles of hibernated ones. */
  readonly openDatabaseCount: number;
}

const HEX_ID = /^[0-9a-f]{64}$/;
const FILE = /^([0-9a-f]{64})\.sqlite$/;

interface Handle {
  odb: ObjectDatabase;
  refs: number;
}

/**
 * Creates a SQLite storage provider.
 * @example
 * const runtime = createRuntime({ storage: sqliteStorage({ dir: "./data" }) });
 */
export function sqliteStorage(options?: SqliteStorageOptions): SqliteStorageProvider {
  const resolved = resolveSqliteStorageOptions(options);
  const limits: StorageLimits = resolveStorageLimits(resolved.limits);
  const inMemory = resolved.dir === ":memory:";
  if (!inMemory) mkdirSync(resolved.dir, { recursive: true });
  const index = new AlarmIndex(inMemory ? ":memory:" : join(resolved.dir, "_alarms.sqlite"), resolved.synchronous);
  /** Handles in use by open storages. */
  const live = new Map<string, Handle>();
  /** Handles of closed (hibernated) objects, least recently closed first. */
  const idle = new Map<string, ObjectDatabase>();
  const knownDirs = new Set<string>();
  let closed = false;

  const location = (key: ObjectKey): string => {
    if (inMemory) return `${key.namespace}\u0000${key.id}`;
    const dir = join(resolved.dir, namespaceDir(key.namespace));
    if (!knownDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      knownDirs.add(dir);
    }
    return join(dir, `${key.id}.sqlite`);
  };

  const release = (where: string) => {
    const h = live.get(where);
    if (h === undefined || --h.refs > 0) return;
    live.delete(where);
    if (closed) {
      h.odb.close();
      return;
    }
    idle.set(where, h.odb);
    // In-memory databases are the data itself: never evict them.
    if (inMemory) return;
    while (idle.size > resolved.maxOpenDatabases) {
      const [oldest, odb] = idle.entries().next().value!;
      idle.delete(oldest);
      odb.close();
    }
  };

  return {
    options: resolved,
    get openDatabaseCount() {
      return live.size + idle.size;
    },
    open(key: ObjectKey, hooks: StorageHooks): ObjectStorage {
      if (closed) throw new TorporError("ERR_STORAGE_CLOSED", "This sqliteStorage() provider is closed; create a new one.");
      if (typeof key.id !== "string" || !HEX_ID.test(key.id)) {
        throw new TorporError("ERR_INVALID_ID", `Object id ${JSON.stringify(key.id)} is not 64 lowercase hex characters. Use an id from the namespace (idFromName, newUniqueId).`);
      }
      const where = location(key);
      let h = live.get(where);
      if (h === undefined) {
        let odb = idle.get(where);
        if (odb !== undefined) idle.delete(where);
        else odb = new ObjectDatabase(inMemory ? ":memory:" : where, resolved.synchronous);
        h = { odb, refs: 0 };
        live.set(where, h);
      }
      h.refs++;
      if (key.name !== undefined) {
        const stored = h.odb.metaGet.get("name");
        if (stored === undefined) {
          h.odb.metaPut.run("name", key.name);
          index.setName(key, key.name);
        }
      }
      const k: ObjectKey = { namespace: key.namespace, id: key.id, name: key.name };
      return new SqliteObjectStorage(h.odb, k, hooks, limits, index, () => release(where));
    },
    listAlarms(): PendingAlarm[] {
      return index.listAlarms();
    },
    listObjects(namespace: string): ObjectKey[] {
      let ids: string[];
      if (inMemory) {
        const prefix = `${namespace}\u0000`;
        ids = [...new Set([...live.keys(), ...idle.keys()])].filter((w) => w.startsWith(prefix)).map((w) => w.slice(prefix.length));
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
      for (const odb of idle.values()) odb.close();
      idle.clear();
      for (const h of live.values()) h.odb.close();
      live.clear();
      index.close();
    },
  };
}

/** A namespace as one safe path segment. */
function namespaceDir(namespace: string): string {
  if (typeof namespace !== "string" || namespace === "") {
    throw new TorporError("ERR_INVALID_OPTIONS", `Storage namespace ${JSON.stringify(namespace)} must be a non-empty string (the binding's class name).`);
  }
  return encodeURIComponent(namespace).replaceAll(".", "%2E");
}
