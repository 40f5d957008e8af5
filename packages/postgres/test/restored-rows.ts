/**
 * What PostgreSQL alone holds of each object: its database rebuilt from the
 * latest snapshot and the log after it (as a node taking the object over
 * rebuilds it), then queried. A checker compares it with what the live
 * copies answer: after every node died, this is what the cluster would serve.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { applyRecords, decodeRecord, ObjectLog, openClusterDb } from "../src/index.ts";

/**
 * Each object's rows for `sql` by object name (or id when it has none); an Error where the rebuilt file cannot be
 * read. `schema`: the cluster's schema in PostgreSQL, when not the default one.
 */
export async function restoredRows(url: string, sql: string, schema?: string): Promise<Map<string, unknown[] | Error>> {
  const db = await openClusterDb({ url, poolSize: 1, skipPoolerCheck: true, ...(schema !== undefined ? { schema } : {}) });
  const dir = mkdtempSync(join(tmpdir(), "torpor-restored-"));
  const out = new Map<string, unknown[] | Error>();
  try {
    const log = new ObjectLog(db);
    const objects = await db.query<{ namespace: string; id: string; name: string | null }>(`SELECT namespace, id, name FROM ${db.tables.objects}`);
    for (const { namespace, id, name } of objects.rows) {
      const key = { namespace, id, ...(name !== null ? { name } : {}) };
      const path = join(dir, `${id}.sqlite`);
      try {
        const stored = await log.load(key);
        writeFileSync(path, stored.snapshot ?? Buffer.alloc(0));
        applyRecords(path, stored.records.map(decodeRecord));
        const file = new Database(path, { readonly: true, fileMustExist: true });
        try {
          out.set(name ?? id, file.prepare(sql).all());
        } finally {
          file.close();
        }
      } catch (error) {
        out.set(name ?? id, error instanceof Error ? error : new Error(String(error)));
      }
    }
    return out;
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
