import { join } from "node:path";
import Database from "better-sqlite3";
import { DurableObject, memoryStorage, Runtime, silentLogger } from "@torpor/core";
import { afterEach, expect, onTestFinished, test } from "vitest";
import { CacheStorage, type Cache } from "../src/cache/cache.ts";
import type { D1Database } from "../src/d1/d1-api.ts";
import { d1Plugin } from "../src/d1/d1-plugin.ts";
import type { R2Bucket } from "../src/r2/r2-bucket.ts";
import { r2Plugin } from "../src/r2/r2-plugin.ts";
import { bindingContext, tempDir } from "./helpers.ts";

/**
 * D1, R2 and Cache writes from a Durable Object wait for the object's output
 * gate, as on workerd (D1 is a fetch, which waits for the output locks; R2's
 * PUT requests (put, delete, multipart) and Cache.put wait for them too):
 * each store commits at once, so a write made right after an object write,
 * and before that write is durable, could survive a power loss that loses
 * the object's write. The object's commit is watched (and failed) by the
 * memory provider's beforeCommit hook.
 */

type Env = { DB: D1Database; BUCKET: R2Bucket; CACHE: Cache };

const URL_Y = "https://cache.example/y";

class Writer extends DurableObject<Env> {
  async d1(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.DB.prepare("INSERT INTO t (v) VALUES (?)").bind("after x").run();
    return "inserted";
  }
  async r2Put(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.BUCKET.put("y", "after x");
    return "put";
  }
  async r2Delete(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.BUCKET.delete("y");
    return "deleted";
  }
  async r2Multipart(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.BUCKET.createMultipartUpload("y");
    return "created";
  }
  async cachePut(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.CACHE.put(URL_Y, new Response("after x", { headers: { "cache-control": "max-age=600" } }));
    return "cached";
  }
  /** Puts without awaiting, then tries to read the same response while the put waits for the gate. */
  async cachePutThenRead(): Promise<{ usedAtReturn: boolean; read: string }> {
    this.ctx.storage.put("x", 1);
    const response = new Response("after x", { headers: { "cache-control": "max-age=600" } });
    const put = this.env.CACHE.put(URL_Y, response);
    const usedAtReturn = response.bodyUsed;
    const read = await response.text().then(
      (text) => `read ${text}`,
      (error: Error) => error.constructor.name,
    );
    await put;
    return { usedAtReturn, read };
  }
}

/** What the hook does at the object's commit (observe the stores, or fail the commit). */
let atCommit: () => void = () => {};
afterEach(() => {
  atCommit = () => {};
});

function failCommits(): void {
  atCommit = () => {
    throw new Error("injected commit failure");
  };
}

async function start() {
  const dataDir = tempDir();
  const context = bindingContext(dataDir);
  const d1 = await d1Plugin.create([{ binding: "DB", database_id: "gate" }], context);
  const r2 = await r2Plugin.create([{ binding: "BUCKET", bucket_name: "gate" }], context);
  const caches = new CacheStorage({ dir: join(dataDir, "cache") });
  const env: Record<string, unknown> = { ...d1.env, ...r2.env, CACHE: caches.default };
  const db = env.DB as D1Database;
  await db.exec("CREATE TABLE t (v TEXT)");
  // A second connection to the D1 file: what is in it, read synchronously from the commit hook.
  const observer = new Database(join(dataDir, "d1", "gate.sqlite"), { readonly: true });
  const runtime = new Runtime({ objects: { Writer }, storage: memoryStorage({ beforeCommit: () => atCommit() }), env, logger: silentLogger });
  onTestFinished(async () => {
    await runtime.close();
    observer.close();
    caches.close();
    await d1.close();
    await r2.close();
  });
  const rows = () => (observer.prepare("SELECT v FROM t").all() as Array<{ v: string }>).map((r) => r.v);
  const uploads = () => {
    const index = new Database(join(dataDir, "r2", "gate", "index.sqlite"), { readonly: true });
    try {
      return (index.prepare("SELECT count(*) AS n FROM uploads").get() as { n: number }).n;
    } finally {
      index.close();
    }
  };
  return { writer: runtime.namespace<Writer>("Writer").getByName("w"), db, bucket: env.BUCKET as R2Bucket, cache: caches.default, rows, uploads };
}

test("a D1 query after an object write runs only once that write is committed", async () => {
  const { writer, rows } = await start();
  const seen: string[][] = [];
  atCommit = () => seen.push(rows());
  expect(await writer.d1()).toBe("inserted");
  // At the object's commit, the INSERT had not run yet.
  expect(seen).toEqual([[]]);
  expect(rows()).toEqual(["after x"]);
});

test("a D1 query after an object write whose commit fails never runs", async () => {
  const { writer, rows } = await start();
  failCommits();
  await expect(writer.d1()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(rows()).toEqual([]);
});

test("an R2 put after an object write whose commit fails never happens", async () => {
  const { writer, bucket } = await start();
  failCommits();
  await expect(writer.r2Put()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(await bucket.head("y")).toBeNull();
});

test("an R2 delete after an object write whose commit fails never happens", async () => {
  const { writer, bucket } = await start();
  await bucket.put("y", "kept");
  failCommits();
  await expect(writer.r2Delete()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(await bucket.head("y")).not.toBeNull();
});

test("an R2 multipart upload after an object write whose commit fails is never created", async () => {
  const { writer, uploads } = await start();
  failCommits();
  await expect(writer.r2Multipart()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(uploads()).toBe(0);
});

test("a Cache put after an object write whose commit fails never happens", async () => {
  const { writer, cache } = await start();
  failCommits();
  await expect(writer.cachePut()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(await cache.match(URL_Y)).toBeUndefined();
});

test("Cache.put takes the body before it waits for the gate: the caller cannot read it meanwhile, the cache keeps it whole", async () => {
  const { writer, cache } = await start();
  // As on workerd, whose put serializes the body at once (the differential case "put disturbs the body at once").
  expect(await writer.cachePutThenRead()).toEqual({ usedAtReturn: true, read: "TypeError" });
  expect(await (await cache.match(URL_Y))!.text()).toBe("after x");
});
