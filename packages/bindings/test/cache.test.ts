// The Cache API's storage on real files: where it keeps them, expiry on the
// cache's clock, its size limits, and several processes of one cluster using
// one data directory at once. What put/match/delete answer is compared with
// workerd in compat/test/web.test.ts.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { VirtualClock } from "@torpor/core";
import { afterEach, expect, test } from "vitest";
import { CacheStorage, openCaches } from "../src/cache/cache.ts";
import { tempDir } from "./helpers.ts";

const open: CacheStorage[] = [];
afterEach(() => {
  for (const caches of open.splice(0)) caches.close();
});

function caches(dataDir: string, clock?: VirtualClock, limits?: ConstructorParameters<typeof CacheStorage>[0]["limits"]): CacheStorage {
  const storage = new CacheStorage({ dir: join(dataDir, "cache"), clock, limits });
  open.push(storage);
  return storage;
}

const cached = (body: string, maxAge = 60) => new Response(body, { headers: { "cache-control": `max-age=${maxAge}` } });
const bodies = (dataDir: string) => readdirSync(join(dataDir, "cache", "bodies"));

test("entries live in <data dir>/cache and survive closing and reopening", async () => {
  const dataDir = tempDir();
  const first = caches(dataDir);
  expect(existsSync(join(dataDir, "cache")), "nothing is opened before first use").toBe(false);
  await first.default.put("https://a.test/x", cached("kept"));
  await (await first.open("named")).put("https://a.test/x", cached("named"));
  first.close();
  expect(existsSync(join(dataDir, "cache", "cache.sqlite"))).toBe(true);
  expect(bodies(dataDir)).toHaveLength(2);

  const second = caches(dataDir);
  expect(await (await second.default.match("https://a.test/x"))?.text()).toBe("kept");
  expect(await (await (await second.open("named")).match("https://a.test/x"))?.text()).toBe("named");
});

test("an entry expires on the cache's clock, and its body file goes with it", async () => {
  const dataDir = tempDir();
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const storage = caches(dataDir, clock);
  await storage.default.put("https://a.test/x", cached("soon", 60));
  await clock.advance(59_000);
  expect(await (await storage.default.match("https://a.test/x"))?.text()).toBe("soon");
  await clock.advance(1_000);
  expect(await storage.default.match("https://a.test/x")).toBeUndefined();
  expect(bodies(dataDir)).toEqual([]);
});

test("replacing or deleting an entry removes its old body file", async () => {
  const dataDir = tempDir();
  const storage = caches(dataDir);
  await storage.default.put("https://a.test/x", cached("one"));
  await storage.default.put("https://a.test/x", cached("two"));
  expect(bodies(dataDir)).toHaveLength(1);
  expect(await storage.default.delete("https://a.test/x")).toBe(true);
  expect(bodies(dataDir)).toEqual([]);
  expect(await storage.default.delete("https://a.test/x")).toBe(false);
});

test("past maxTotalBytes the entries stored first are evicted; a body over maxEntryBytes is not kept", async () => {
  const dataDir = tempDir();
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const storage = caches(dataDir, clock, { maxTotalBytes: 250, maxEntryBytes: 120 });
  for (const name of ["a", "b", "c"]) {
    await storage.default.put(`https://a.test/${name}`, cached(name.repeat(100)));
    await clock.advance(1);
  }
  expect(await storage.default.match("https://a.test/a")).toBeUndefined();
  expect(await (await storage.default.match("https://a.test/b"))?.text()).toBe("b".repeat(100));
  expect(await (await storage.default.match("https://a.test/c"))?.text()).toBe("c".repeat(100));
  expect(bodies(dataDir)).toHaveLength(2);

  await storage.default.put("https://a.test/big", cached("x".repeat(121)));
  expect(await storage.default.match("https://a.test/big")).toBeUndefined();
  expect(bodies(dataDir), "the partial file of the refused body is gone").toHaveLength(2);
});

test("openCaches keeps a data directory's caches in <data dir>/cache", async () => {
  const dataDir = tempDir();
  const storage = openCaches(dataDir);
  open.push(storage);
  await storage.default.put("https://a.test/x", cached("x"));
  expect(existsSync(join(dataDir, "cache", "cache.sqlite"))).toBe(true);
});

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;

test("three processes putting and matching on one data directory at once lose nothing and tear nothing", { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  const count = 60;
  const reports = await Promise.all(
    [0, 1, 2].map(
      (index) =>
        new Promise<{ index: number; errors: string[] }>((resolve, reject) => {
          const proc = spawn(
            process.execPath,
            ["--conditions=@torpor/source", "--import", tsx, join(here, "fixtures", "cache-writer.ts"), dataDir, String(index), String(count)],
            { stdio: ["ignore", "pipe", "pipe"] },
          );
          let out = "";
          let err = "";
          proc.stdout.on("data", (c: Buffer) => (out += c));
          proc.stderr.on("data", (c: Buffer) => (err += c));
          proc.on("exit", (code) =>
            code === 0 ? resolve(JSON.parse(out.trim()) as { index: number; errors: string[] }) : reject(new Error(`writer ${index} exited ${code}: ${err}`)),
          );
        }),
    ),
  );
  expect(reports.flatMap((r) => r.errors)).toEqual([]);
  const storage = caches(dataDir);
  for (const index of [0, 1, 2])
    expect(await (await storage.default.match(`https://cache.test/p${index}/${count - 1}`))?.text()).toBe(`${index}/${count - 1}`.repeat(100));
  // One file per live entry: the replaced shared bodies were all removed.
  expect(bodies(dataDir)).toHaveLength(3 * count + 1);
});
