// KV, D1 and R2 files are shared by the worker processes of one cluster
// (torpor start --workers N). These tests run several real processes on one
// data directory at once and check that no write is lost or torn and no
// process fails on another's lock.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { silentLogger } from "@torpor/core";
import { expect, test } from "vitest";
import type { D1Database } from "../src/d1/d1-api.ts";
import { createBindings } from "../src/plugins.ts";
import type { R2Bucket } from "../src/r2/r2-bucket.ts";
import type { GetResult } from "../src/r2/r2-object.ts";
import { tempDir } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
// tsx (a root dev dependency) runs the child's TypeScript: Node 20 cannot strip types.
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const child = join(here, "fixtures", "shared-writer.ts");

/** Runs `processes` writers at once; resolves with each one's report (a writer that exits non-zero fails the test). */
function runWriters(dataDir: string, kind: string, processes: number, count: number): Promise<Array<{ index: number; errors: string[]; created: boolean }>> {
  return Promise.all(
    Array.from(
      { length: processes },
      (_, index) =>
        new Promise<{ index: number; errors: string[]; created: boolean }>((resolve, reject) => {
          const proc = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, child, dataDir, kind, String(index), String(count)], {
            stdio: ["ignore", "pipe", "pipe"],
          });
          let out = "";
          let err = "";
          proc.stdout.on("data", (c: Buffer) => (out += c));
          proc.stderr.on("data", (c: Buffer) => (err += c));
          proc.on("exit", (code) => {
            if (code === 0) resolve(JSON.parse(out.trim()) as { index: number; errors: string[]; created: boolean });
            else reject(new Error(`writer ${index} exited ${code}: ${err}`));
          });
        }),
    ),
  );
}

test("KV: four processes writing one namespace at once lose no write and see their own", { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  const processes = 4;
  const count = 150;
  const reports = await runWriters(dataDir, "kv", processes, count);
  expect(reports.flatMap((r) => r.errors)).toEqual([]);
  const bound = await createBindings({ kv_namespaces: [{ binding: "KV", id: "shared" }] }, { dataDir, configDir: dataDir, logger: silentLogger });
  try {
    const kv = bound.env.KV as {
      list(o: object): Promise<{ keys: Array<{ name: string }>; list_complete: boolean; cursor?: string }>;
      get(k: string): Promise<string | null>;
    };
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await kv.list({ prefix: "p", ...(cursor !== undefined ? { cursor } : {}) });
      names.push(...page.keys.map((k) => k.name));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    expect(names).toHaveLength(processes * count);
    for (let p = 0; p < processes; p++) expect(await kv.get(`p${p}:${String(count - 1).padStart(5, "0")}`)).toBe(`${p}/${count - 1}`);
    // The last write of one of them, whole.
    expect(await kv.get("last")).toMatch(new RegExp(`^[0-${processes - 1}]/${count - 1}$`));
  } finally {
    await bound.close();
  }
});

test("D1: four processes running read-then-write batches on one database lose no update and never fail on a lock", { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  const setup = await createBindings({ d1_databases: [{ binding: "DB", database_id: "shared" }] }, { dataDir, configDir: dataDir, logger: silentLogger });
  const db = setup.env.DB as D1Database;
  await db.batch([
    db.prepare("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"),
    db.prepare("INSERT INTO counter VALUES (1, 0)"),
    db.prepare("CREATE TABLE log (writer INTEGER, i INTEGER, PRIMARY KEY (writer, i))"),
  ]);
  try {
    const processes = 4;
    const count = 100;
    const reports = await runWriters(dataDir, "d1", processes, count);
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    expect(await db.prepare("SELECT n FROM counter WHERE id = 1").first("n")).toBe(processes * count);
    expect(await db.prepare("SELECT count(*) AS n FROM log").first("n")).toBe(processes * count);
  } finally {
    await setup.close();
  }
});

test("R2: four processes overwriting one object never read a torn one, and create-if-absent has one winner", { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  const processes = 4;
  const count = 40;
  const reports = await runWriters(dataDir, "r2", processes, count);
  expect(reports.flatMap((r) => r.errors)).toEqual([]);
  expect(reports.filter((r) => r.created)).toHaveLength(1);
  const bound = await createBindings({ r2_buckets: [{ binding: "R2", bucket_name: "shared" }] }, { dataDir, configDir: dataDir, logger: silentLogger });
  try {
    const r2 = bound.env.R2 as R2Bucket;
    const listed = await r2.list({ prefix: "p" });
    expect(listed.objects).toHaveLength(processes * count > 1000 ? 1000 : processes * count);
    const winner = reports.find((r) => r.created)!.index;
    expect(await ((await r2.get("once")) as GetResult).text()).toBe(String(winner));
    // Every replaced version's file was removed: one file per live object.
    expect(readdirSync(join(dataDir, "r2", "shared", "blobs"))).toHaveLength(processes * count + 2);
  } finally {
    await bound.close();
  }
});
