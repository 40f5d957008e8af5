import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { afterEach, expect, it } from "vitest";
import { openSharedWal } from "../src/shared-wal.ts";
import { isBusy } from "../src/sqlite-busy.ts";

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

/** A new database file in a fresh directory, with another process in its first transaction; `exited` when it ends. */
async function heldByAnother(holdMs: number) {
  const dir = mkdtempSync(join(tmpdir(), "torpor-shared-wal-"));
  dirs.push(dir);
  const path = join(dir, "index.sqlite");
  const child = await holdFirstTransaction(path, holdMs);
  return { path, exited: once(child, "exit") };
}

it("opens a file another process is creating at that moment: SQLite's immediate SQLITE_BUSY on the switch to WAL is retried", async () => {
  const { path, exited } = await heldByAnother(1_000);
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
  const { path, exited } = await heldByAnother(2_000);
  try {
    expect(() => openSharedWal(path, { synchronous: "FULL", timeoutMs: 200 })).toThrow(expect.objectContaining({ code: "SQLITE_BUSY" }));
  } finally {
    await exited;
  }
});

it("isBusy: SQLITE_BUSY and its extended codes are another connection's lock; nothing else is", () => {
  const withCode = (code: unknown) => Object.assign(new Error("x"), { code });
  for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_RECOVERY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_TIMEOUT"]) expect(isBusy(withCode(code))).toBe(true);
  for (const code of ["SQLITE_LOCKED", "SQLITE_BUSYX", "SQLITE_CONSTRAINT_UNIQUE", 5, undefined]) expect(isBusy(withCode(code))).toBe(false);
  expect(isBusy(null)).toBe(false);
  expect(isBusy("SQLITE_BUSY")).toBe(false);
});
