// A write to a file every worker of a cluster shares (KV, D1) while another
// process holds its write lock: it must wait on timers, keeping the worker's
// event loop running, for longer than SQLite's busy timeout would, and then
// succeed. Before, SQLite's busy handler slept on the event loop's thread for
// 5 s and the write then failed with "database is locked".
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { setImmediate as turn, setTimeout as later } from "node:timers/promises";
import { silentLogger } from "@torpor/core";
import { expect, test } from "vitest";
import { whenUnlocked } from "../src/lock-wait.ts";
import type { D1Database } from "../src/d1/d1-api.ts";
import { createBindings } from "../src/plugins.ts";
import { tempDir } from "./helpers.ts";

const betterSqlite3 = createRequire(import.meta.url).resolve("better-sqlite3");

/** Another process in a write transaction on `path` until `release()`, as a cluster worker is during a long D1 batch. */
async function holdWriteLock(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite3)});
    const db = new Database(process.argv[1]);
    db.exec("BEGIN IMMEDIATE");
    process.stdout.write("held\\n");
    process.stdin.once("data", () => { db.exec("COMMIT"); db.close(); process.exit(0); });
  `;
  const child: ChildProcess = spawn(process.execPath, ["-e", script, path], { stdio: ["pipe", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  expect(chunk.toString()).toBe("held\n");
  return {
    async release() {
      const exited = once(child, "exit");
      child.stdin!.write("go\n");
      await exited;
    },
  };
}

/** The state of a promise, read without waiting for it. */
function track(promise: Promise<unknown>): { state: "pending" | "resolved" | "rejected"; error?: unknown } {
  const tracked: { state: "pending" | "resolved" | "rejected"; error?: unknown } = { state: "pending" };
  promise.then(
    () => (tracked.state = "resolved"),
    (error: unknown) => Object.assign(tracked, { state: "rejected", error }),
  );
  return tracked;
}

/** Lets timers run while the write waits: with the old busy handler the event loop was blocked, and the write had failed by now. */
async function whileHeld(write: { state: string; error?: unknown }) {
  for (let i = 0; i < 5; i++) await turn();
  await later(100);
  expect(write.error).toBeUndefined();
  expect(write.state).toBe("pending");
}

/** The bindings of `config` on a fresh data directory, closed after `use`. */
async function withBindings(config: Parameters<typeof createBindings>[0], use: (env: Record<string, unknown>, dataDir: string) => Promise<void>) {
  const dataDir = tempDir();
  const bound = await createBindings(config, { dataDir, configDir: dataDir, logger: silentLogger });
  try {
    await use(bound.env, dataDir);
  } finally {
    await bound.close();
  }
}

/**
 * Starts `write` while another process holds `file`'s write lock: it must still be waiting (on timers) after a while,
 * and `meanwhile` runs then; once the lock is released the write lands.
 */
async function writeWhileLocked(file: string, write: () => Promise<unknown>, meanwhile: () => Promise<void>): Promise<void> {
  const holder = await holdWriteLock(file);
  const pending = write();
  await whileHeld(track(pending));
  await meanwhile();
  await holder.release();
  await pending;
}

test("KV: a put waits on timers while another process holds the file's write lock, then lands", { timeout: 30_000 }, async () => {
  await withBindings({ kv_namespaces: [{ binding: "KV", id: "held" }] }, async (env, dataDir) => {
    const kv = env.KV as { put(k: string, v: string): Promise<void>; get(k: string): Promise<string | null> };
    await kv.put("before", "1");
    await writeWhileLocked(
      join(dataDir, "kv", "held.sqlite"),
      () => kv.put("k", "v"),
      // Reads never wait for a writer (WAL).
      async () => expect(await kv.get("before")).toBe("1"),
    );
    expect(await kv.get("k")).toBe("v");
  });
});

test("D1: a write batch waits on timers while another process holds the database's write lock, then commits whole", { timeout: 30_000 }, async () => {
  await withBindings({ d1_databases: [{ binding: "DB", database_id: "held" }] }, async (env, dataDir) => {
    const db = env.DB as D1Database;
    await db.exec("CREATE TABLE t (n INTEGER)");
    const file = readdirSync(join(dataDir, "d1")).find((name) => name.endsWith(".sqlite"))!;
    await writeWhileLocked(
      join(dataDir, "d1", file),
      () => db.batch([db.prepare("INSERT INTO t VALUES (1)"), db.prepare("INSERT INTO t VALUES (2)")]),
      async () => expect(await db.prepare("SELECT count(*) AS n FROM t").first("n")).toBe(0),
    );
    expect(await db.prepare("SELECT sum(n) AS n FROM t").first("n")).toBe(3);
  });
});

test("whenUnlocked runs the write again only on SQLITE_BUSY, and gives up with it once its time is up", async () => {
  let clock = 0;
  const options = { waitMs: 1_000, now: () => clock, sleep: async (ms: number) => void (clock += ms) };
  const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
  let attempts = 0;
  await expect(
    whenUnlocked(() => {
      attempts++;
      throw busy;
    }, options),
  ).rejects.toBe(busy);
  // Backing off up to 50 ms (jittered by 0.5-1.5x) between attempts over 1 s.
  expect(attempts).toBeGreaterThan(10);
  expect(clock).toBeGreaterThanOrEqual(1_000);

  clock = 0;
  attempts = 0;
  const constraint = Object.assign(new Error("UNIQUE constraint failed"), { code: "SQLITE_CONSTRAINT_UNIQUE" });
  await expect(
    whenUnlocked(() => {
      attempts++;
      throw constraint;
    }, options),
  ).rejects.toBe(constraint);
  expect(attempts).toBe(1);

  let left = 3;
  expect(
    await whenUnlocked(() => {
      if (left-- > 0) throw busy;
      return "done";
    }, options),
  ).toBe("done");
  // Extended busy codes too (isBusy, storage-sqlite's sqlite-busy.ts).
  left = 1;
  expect(
    await whenUnlocked(() => {
      if (left-- > 0) throw Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY_SNAPSHOT" });
      return "done";
    }, options),
  ).toBe("done");
});
