/**
 * Reads what the subject objects stored, straight from the data directory
 * after the cluster stopped (one SQLite file per object under `<data>/do`):
 * the ids of their KV and SQL writes, the events they ran with the
 * incarnation that ran each, and the alarms that ran.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { StoredObject, StoredState } from "./checker.ts";

/** Every subject object found under `<dataDir>/do`, by name. */
export function readStoredState(dataDir: string): StoredState {
  const state: StoredState = new Map();
  const root = join(dataDir, "do");
  if (!existsSync(root)) return state;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    for (const file of readdirSync(dir)) {
      if (!file.endsWith(".sqlite")) continue;
      const read = readObject(join(dir, file));
      if (read !== null) state.set(read.name, read.object);
    }
  }
  return state;
}

function readObject(path: string): { name: string; object: StoredObject } | null {
  const db = new Database(path, { fileMustExist: true });
  try {
    const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
    if (!tables.has("meta") || !tables.has("ev")) return null;
    const name = db.prepare("SELECT v FROM meta WHERE k = 'name'").pluck().get() as string | undefined;
    if (name === undefined) return null;
    const writes = new Set<string>(db.prepare("SELECT op FROM w").pluck().all() as string[]);
    if (tables.has("_cf_KV")) for (const key of db.prepare("SELECT key FROM _cf_KV WHERE key LIKE 'kv:%'").pluck().all() as string[]) writes.add(key.slice(3));
    const events = (db.prepare("SELECT seq, inc, pid, what FROM ev ORDER BY seq").all() as Array<{ seq: number; inc: string; pid: number; what: string }>).map(
      (e) => ({ seq: e.seq, incarnation: e.inc, pid: e.pid, what: e.what }),
    );
    const alarmsFired = new Map<string, number>();
    for (const row of db.prepare("SELECT op, count(*) AS n FROM fired GROUP BY op").all() as Array<{ op: string; n: number }>) alarmsFired.set(row.op, row.n);
    return { name, object: { writes, events, alarmsFired } };
  } finally {
    db.close();
  }
}
