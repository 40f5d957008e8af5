/**
 * A small database listing which objects may have an alarm, so start-up does
 * not open every object's database. Invariant: every real alarm is indexed,
 * at its time or earlier. An alarm set earlier than the indexed one is
 * written here before its object's commit; a deleted one is removed, and one
 * moved later is moved here, only once that commit is durable. A crash in
 * between leaves a stale extra or early entry, never a missing or late one:
 * the runtime re-reads the object's own alarm before firing, and a timer
 * that fired early is set again for the real time.
 */
import Database from "better-sqlite3";
import type { ObjectKey, PendingAlarm } from "@torpor/core/storage";
import type { SynchronousMode } from "./options.ts";
import { openSharedWal } from "./shared-wal.ts";

/** The alarm and object-name index of one data directory. */
export class AlarmIndex {
  readonly #db: Database.Database;
  readonly #upsertAlarm: Database.Statement;
  readonly #deleteAlarm: Database.Statement;
  readonly #listAlarms: Database.Statement;
  readonly #hasAlarm: Database.Statement;
  readonly #upsertName: Database.Statement;
  readonly #names: Database.Statement;

  /** Opens (or creates) the index at `path` (`":memory:"` allowed). */
  constructor(path: string, synchronous: SynchronousMode) {
    const schema = (db: Database.Database) =>
      db.exec(`
        CREATE TABLE IF NOT EXISTS alarms (namespace TEXT NOT NULL, id TEXT NOT NULL, time REAL NOT NULL, PRIMARY KEY (namespace, id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS objects (namespace TEXT NOT NULL, id TEXT NOT NULL, name TEXT, PRIMARY KEY (namespace, id)) WITHOUT ROWID;
      `);
    if (path === ":memory:") {
      this.#db = new Database(path);
      schema(this.#db);
    } else {
      // Every worker of a cluster opens this file at start-up, at once.
      this.#db = openSharedWal(path, { synchronous, setup: schema });
    }
    this.#upsertAlarm = this.#db.prepare("INSERT OR REPLACE INTO alarms (namespace, id, time) VALUES (?, ?, ?)");
    this.#deleteAlarm = this.#db.prepare("DELETE FROM alarms WHERE namespace = ? AND id = ?");
    this.#listAlarms = this.#db.prepare(
      "SELECT a.namespace, a.id, a.time, o.name FROM alarms a LEFT JOIN objects o ON o.namespace = a.namespace AND o.id = a.id",
    );
    this.#hasAlarm = this.#db.prepare("SELECT time FROM alarms WHERE namespace = ? AND id = ?").pluck();
    this.#upsertName = this.#db.prepare("INSERT OR REPLACE INTO objects (namespace, id, name) VALUES (?, ?, ?)");
    this.#names = this.#db.prepare("SELECT id, name FROM objects WHERE namespace = ?");
  }

  /** Records that `key` has an alarm at `time` (before the object's commit if earlier than indexed, after it is durable if later). */
  setAlarm(key: ObjectKey, time: number): void {
    this.#upsertAlarm.run(key.namespace, key.id, time);
  }

  /** Forgets `key`'s alarm (call after the object's commit). */
  deleteAlarm(key: ObjectKey): void {
    this.#deleteAlarm.run(key.namespace, key.id);
  }

  /** Whether `key` may have an alarm (false means it certainly has none: the index holds every real alarm). */
  hasAlarm(key: ObjectKey): boolean {
    return this.#hasAlarm.get(key.namespace, key.id) !== undefined;
  }

  /** The indexed time of `key`'s alarm (never later than the real one), or null. */
  alarmTime(key: ObjectKey): number | null {
    const time = this.#hasAlarm.get(key.namespace, key.id) as number | undefined;
    return time ?? null;
  }

  /** Every indexed alarm, possibly with stale extra entries. */
  listAlarms(): PendingAlarm[] {
    return (this.#listAlarms.all() as { namespace: string; id: string; time: number; name: string | null }[]).map((r) => ({
      key: { namespace: r.namespace, id: r.id, ...(r.name === null ? {} : { name: r.name }) },
      scheduledTime: r.time,
    }));
  }

  /** Remembers the name an object's id was derived from. */
  setName(key: ObjectKey, name: string): void {
    this.#upsertName.run(key.namespace, key.id, name);
  }

  /** Names known for ids of `namespace`. */
  names(namespace: string): Map<string, string> {
    const rows = this.#names.all(namespace) as { id: string; name: string | null }[];
    return new Map(rows.filter((r) => r.name !== null).map((r) => [r.id, r.name!]));
  }

  /** Forgets every alarm and name (a restore writes them again from the objects). */
  clear(): void {
    this.#db.exec("DELETE FROM alarms; DELETE FROM objects");
  }

  /** Throws if the index cannot answer a query (closed, or its file is unreadable). */
  check(): void {
    this.#hasAlarm.get("", "");
  }

  close(): void {
    this.#db.close();
  }
}
