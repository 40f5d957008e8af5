import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { afterEach, expect, it } from "vitest";
import { openSharedWal } from "../src/shared-wal.ts";

const betterSqlite3 = createRequire(import.meta.url).resolve("better-sqlite3");
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Another process creating the same new file: it holds the write lock of the
 * file's first transaction (still in rollback-journal mode) for `holdMs`.
 * That is what a second cluster worker does while this one opens the file.
 */
async function holdFirstTransaction(path: string, holdMs: number) {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite3)});
    const db = new Database(process.argv[1]);
    db.exec("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS other (x)");
    process.stdout.write("held\\n");
    setTimeout(() => { db.exec("COMMIT"); db.close(); }, ${holdMs});
  `;
  const child = spawn(process.execPath, ["-e", script, path], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  expect(chunk.toString()).toBe("held\n");
  return child;
}

it("opens a file another process is creating at that moment: SQLite's immediate SQLITE_BUSY on the switch to WAL is retried", async () => {
  const dir = mkdtempSync(join(tmpdir(), "torpor-shared-wal-"));
  dirs.push(dir);
  const path = join(dir, "index.sqlite");
  const child = await holdFirstTransaction(path, 1_000);
  const exited = once(child, "exit");
  try {
    const db = openSharedWal(path, {
      synchronous: "FULL",
      setup: (d) => d.exec("CREATE TABLE IF NOT EXISTS mine (k TEXT PRIMARY KEY)"),
    });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    db.close();
    expect(tables).toEqual(["mine", "other"]);
  } finally {
    await exited;
  }
});

it("still fails with SQLITE_BUSY once its time is up, instead of waiting forever", async () => {
  const dir = mkdtempSync(join(tmpdir(), "torpor-shared-wal-"));
  dirs.push(dir);
  const path = join(dir, "index.sqlite");
  const child = await holdFirstTransaction(path, 2_000);
  const exited = once(child, "exit");
  try {
    expect(() => openSharedWal(path, { synchronous: "FULL", timeoutMs: 200 })).toThrow(expect.objectContaining({ code: "SQLITE_BUSY" }));
  } finally {
    await exited;
  }
});
