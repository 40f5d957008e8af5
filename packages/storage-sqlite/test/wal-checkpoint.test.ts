/**
 * At FULL (the provider syncing each commit's WAL itself), the WAL is
 * checkpointed after a commit is durable, not inside the COMMIT: SQLite's own
 * checkpoint there fsyncs the WAL and the database file on the event loop's
 * thread, stalling every object of the process (the durable echo's p99).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import type { StorageHooks } from "@torpor/core/storage";
import { sqliteStorage } from "../src/index.ts";
import { CHECKPOINT_WAL_BYTES } from "../src/wal-checkpoint.ts";
import { objectKey } from "./driver.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "torpor-checkpoint-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hooks: StorageHooks = { writeStarted() {}, alarmChanged() {}, flush: async () => {}, holdInput: <T>(p: Promise<T>) => p };

/** The object database's file (the provider names it after the id). */
function databaseFile(): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".sqlite") && !e.name.startsWith("_")) files.push(join(d, e.name));
    }
  };
  walk(dir);
  expect(files).toHaveLength(1);
  return files[0]!;
}

test("at FULL a full WAL is checkpointed after the commit is durable, never inside it, and nothing is lost", async () => {
  const provider = sqliteStorage({ dir, synchronous: "FULL" });
  const storage = provider.open(objectKey("ckpt"), hooks);
  const sql = storage.api.sql;
  sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  await storage.commitAsync!();
  const file = databaseFile();
  const body = "x".repeat(3000); // about one WAL frame per row
  const perCommit = 20;
  let checkpointed = -1;
  let copies = 0;
  let rows = 0;
  // Enough commits to pass the checkpoint size twice over.
  for (let i = 0; i < Math.ceil((2.5 * CHECKPOINT_WAL_BYTES) / (perCommit * 4120)); i++) {
    const before = statSync(file).size;
    for (let r = 0; r < perCommit; r++) sql.exec("INSERT INTO t (body) VALUES (?)", body);
    rows += perCommit;
    const durable = storage.commitAsync!();
    // Inside the commit nothing was copied into the database file (SQLite's checkpoint would have).
    expect(statSync(file).size).toBe(before);
    await durable;
    if (statSync(file).size > before) {
      copies++;
      if (checkpointed < 0) checkpointed = i;
    }
  }
  // Once per WAL's worth of frames, as SQLite would (after a checkpoint the WAL file keeps its size,
  // so its size alone would call for one at every look): 2.5 WALs make 2 or 3.
  expect(copies).toBeLessThanOrEqual(3);
  // It did checkpoint once the WAL passed the size (the database file grew), and the WAL is reused after it.
  expect(checkpointed).toBeGreaterThan(0);
  expect(statSync(`${file}-wal`).size).toBeLessThan(CHECKPOINT_WAL_BYTES + 17 * (perCommit + 4) * 4120);
  expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM t").one().n).toBe(rows);
  storage.close();
  provider.close();
  // Reopened from the files alone, every committed row is there.
  const again = sqliteStorage({ dir, synchronous: "FULL" });
  const reopened = again.open(objectKey("ckpt"), hooks);
  expect(reopened.api.sql.exec<{ n: number }>("SELECT count(*) AS n FROM t").one().n).toBe(rows);
  reopened.close();
  again.close();
});
