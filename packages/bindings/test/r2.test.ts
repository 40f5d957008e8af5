import { readdirSync } from "node:fs";
import { join } from "node:path";
import { VirtualClock } from "@torpor/core";
import { afterEach, expect, test } from "vitest";
import type { BoundValues } from "../src/binding-plugin.ts";
import type { R2Bucket } from "../src/r2/r2-bucket.ts";
import type { GetResult } from "../src/r2/r2-object.ts";
import { r2Plugin, type R2Config } from "../src/r2/r2-plugin.ts";
import { bindingContext, tempDir } from "./helpers.ts";

const open: BoundValues[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

async function bind(
  config: R2Config,
  dataDir = tempDir(),
  clock?: VirtualClock,
): Promise<{ env: Record<string, R2Bucket>; bound: BoundValues; dataDir: string }> {
  const bound = await r2Plugin.create(config, bindingContext(dataDir, clock));
  open.push(bound);
  return { env: bound.env as Record<string, R2Bucket>, bound, dataDir };
}

const blobs = (dataDir: string, bucket: string) => readdirSync(join(dataDir, "r2", bucket, "blobs")).sort();

test("objects live under <data dir>/r2/<bucket_name>/ (binding name without one) and survive reopening", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const first = await bind([{ binding: "FILES", bucket_name: "uploads" }, { binding: "OTHER" }], tempDir(), clock);
  await first.env.FILES!.put("a/b.txt", "hello", { httpMetadata: { contentType: "text/plain" }, customMetadata: { by: "test" } });
  await first.env.OTHER!.put("x", "y");
  expect(blobs(first.dataDir, "uploads")).toHaveLength(1);
  expect(blobs(first.dataDir, "OTHER")).toHaveLength(1);
  await first.bound.close();
  open.pop();
  const again = await bind([{ binding: "SAME", bucket_name: "uploads" }], first.dataDir);
  const got = (await again.env.SAME!.get("a/b.txt")) as GetResult;
  expect(await got.text()).toBe("hello");
  expect(got.httpMetadata.contentType).toBe("text/plain");
  expect(got.customMetadata).toEqual({ by: "test" });
  expect(got.uploaded.getTime()).toBe(1_700_000_000_000);
});

test("overwriting or deleting an object removes its old file; a failed put leaves no file", async () => {
  const { env, dataDir } = await bind([{ binding: "B", bucket_name: "b" }]);
  await env.B!.put("k", "one");
  const [firstBlob] = blobs(dataDir, "b");
  await env.B!.put("k", "two");
  expect(blobs(dataDir, "b")).not.toContain(firstBlob);
  expect(blobs(dataDir, "b")).toHaveLength(1);
  await expect(env.B!.put("k", "three", { md5: "00000000000000000000000000000000" })).rejects.toThrow(/^put: The MD5 checksum you specified did not match/);
  expect(await env.B!.put("k", "four", { onlyIf: { etagMatches: "nope" } })).toBeNull();
  expect(blobs(dataDir, "b")).toHaveLength(1);
  expect(await (await env.B!.get("k"))!.constructor.name).toBe("GetResult");
  await env.B!.delete("k");
  expect(blobs(dataDir, "b")).toEqual([]);
});

test("a body read after its object was replaced is still the version that was read", async () => {
  const { env } = await bind([{ binding: "B" }]);
  await env.B!.put("k", "x".repeat(300_000));
  const before = (await env.B!.get("k")) as GetResult;
  await env.B!.put("k", "new");
  expect((await before.text()).length).toBe(300_000);
  expect(await ((await env.B!.get("k")) as GetResult).text()).toBe("new");
});

test("a multipart upload joins its parts into one file, and leaves no part files behind", async () => {
  const { env, dataDir } = await bind([{ binding: "B", bucket_name: "mp" }]);
  const upload = await env.B!.createMultipartUpload("big", { customMetadata: { kind: "multipart" } });
  const part = new Uint8Array(5 * 1024 * 1024);
  const p1 = await upload.uploadPart(1, part.fill(1));
  const p2 = await upload.uploadPart(2, new Uint8Array(5 * 1024 * 1024).fill(2));
  const p3 = await upload.uploadPart(3, "end");
  expect(blobs(dataDir, "mp")).toHaveLength(3);
  const done = await upload.complete([p1, p2, p3]);
  expect(done.size).toBe(10 * 1024 * 1024 + 3);
  expect(done.etag).toMatch(/^[0-9a-f]{32}-3$/);
  expect(blobs(dataDir, "mp")).toHaveLength(1);
  const tail = (await env.B!.get("big", { range: { suffix: 5 } })) as GetResult;
  expect([...(await tail.bytes())]).toEqual([2, 2, 101, 110, 100]);

  const aborted = await env.B!.createMultipartUpload("gone");
  await aborted.uploadPart(1, "x");
  expect(blobs(dataDir, "mp")).toHaveLength(2);
  await aborted.abort();
  expect(blobs(dataDir, "mp")).toHaveLength(1);
});

test("list pages through keys in UTF-8 byte order with delimiters, and the cursor skips a whole prefix", async () => {
  const { env } = await bind([{ binding: "B" }]);
  for (const key of ["a", "b/1", "b/2", "b/3", "c", "\u{1f600}", "\uffff"]) await env.B!.put(key, key);
  const pages: Array<{ keys: string[]; prefixes: string[] }> = [];
  let cursor: string | undefined;
  do {
    const page = await env.B!.list({ delimiter: "/", limit: 1, ...(cursor !== undefined ? { cursor } : {}) });
    pages.push({ keys: page.objects.map((o) => o.key), prefixes: page.delimitedPrefixes });
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  expect(pages).toEqual([
    { keys: ["a"], prefixes: [] },
    { keys: [], prefixes: ["b/"] },
    { keys: ["c"], prefixes: [] },
    { keys: ["\uffff"], prefixes: [] },
    { keys: ["\u{1f600}"], prefixes: [] },
  ]);
});
