import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { VirtualClock } from "@torpor/core";
import { afterEach, expect, test } from "vitest";
import type { BoundValues } from "../src/binding-plugin.ts";
import type { KvNamespace } from "../src/kv/kv-namespace.ts";
import { kvPlugin, type KvConfig } from "../src/kv/kv-plugin.ts";
import { prefixEnd } from "../src/key-range.ts";
import { bindingContext, tempDir } from "./helpers.ts";

const open: BoundValues[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

async function bind(
  config: KvConfig,
  dataDir = tempDir(),
  clock?: VirtualClock,
): Promise<{ env: Record<string, KvNamespace>; bound: BoundValues; dataDir: string }> {
  const bound = await kvPlugin.create(config, bindingContext(dataDir, clock));
  open.push(bound);
  return { env: bound.env as Record<string, KvNamespace>, bound, dataDir };
}

test("values live in <data dir>/kv/<id>.sqlite and survive closing and reopening", async () => {
  const first = await bind([{ binding: "KV", id: "abc123" }]);
  await first.env.KV!.put("k", "v", { metadata: { n: 1 } });
  await first.bound.close();
  open.pop();
  const file = join(first.dataDir, "kv", "abc123.sqlite");
  expect(existsSync(file)).toBe(true);
  const again = await bind([{ binding: "OTHER_NAME", id: "abc123" }], first.dataDir);
  expect(await again.env.OTHER_NAME!.getWithMetadata("k")).toEqual({ value: "v", metadata: { n: 1 }, cacheStatus: null });
});

test("bindings with the same id share a namespace; without an id the binding name is the id", async () => {
  const { env, dataDir } = await bind([{ binding: "A", id: "same" }, { binding: "B", id: "same" }, { binding: "C" }]);
  await env.A!.put("k", "from A");
  expect(await env.B!.get("k")).toBe("from A");
  expect(await env.C!.get("k")).toBeNull();
  await env.C!.put("k", "from C");
  expect(existsSync(join(dataDir, "kv", "C.sqlite"))).toBe(true);
});

test("an id that is not a plain name cannot leave the kv folder", async () => {
  const { env, dataDir } = await bind([{ binding: "KV", id: "../../escape" }]);
  await env.KV!.put("k", "v");
  expect(existsSync(join(dataDir, "kv", "%2E%2E%2F%2E%2E%2Fescape.sqlite"))).toBe(true);
});

test("an entry expires at its expiration: get and list stop seeing it, and the file forgets it", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const { env, dataDir } = await bind([{ binding: "KV", id: "exp" }], tempDir(), clock);
  const kv = env.KV!;
  await kv.put("ttl", "v", { expirationTtl: 60 });
  await kv.put("at", "v", { expiration: 1_700_000_000 + 120 });
  await kv.put("forever", "v");
  expect((await kv.list()).keys).toEqual([{ name: "at", expiration: 1_700_000_120 }, { name: "forever" }, { name: "ttl", expiration: 1_700_000_060 }]);
  await clock.advance(59_999);
  expect(await kv.get("ttl")).toBe("v");
  await clock.advance(1);
  expect(await kv.get("ttl")).toBeNull();
  expect(await kv.getWithMetadata("ttl")).toEqual({ value: null, metadata: null, cacheStatus: null });
  expect((await kv.list()).keys.map((k) => k.name)).toEqual(["at", "forever"]);
  await clock.advance(60_000);
  expect((await kv.list()).keys.map((k) => k.name)).toEqual(["forever"]);
  expect(await kv.get(["at", "forever"])).toEqual(
    new Map([
      ["at", null],
      ["forever", "v"],
    ]),
  );
  const db = new Database(join(dataDir, "kv", "exp.sqlite"), { readonly: true });
  try {
    expect(db.prepare("SELECT key FROM entries ORDER BY key").all()).toEqual([{ key: "forever" }]);
  } finally {
    db.close();
  }
});

test("a put over an expired entry is a new entry, and a put without options clears the expiration", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const { env } = await bind([{ binding: "KV" }], tempDir(), clock);
  await env.KV!.put("k", "v1", { expirationTtl: 60 });
  await env.KV!.put("k", "v2");
  await clock.advance(120_000);
  expect(await env.KV!.get("k")).toBe("v2");
  expect((await env.KV!.list()).keys).toEqual([{ name: "k" }]);
});

test("list pages through every key in UTF-8 byte order with the cursor, astral characters included", async () => {
  const { env } = await bind([{ binding: "KV" }]);
  const names = ["a", "b", "\u{1f600}", "\uffff", "p:\u{10ffff}", "p:\u{10ffff}x", "p:", "p:z", "q"];
  for (const name of names) await env.KV!.put(name, name);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = (await env.KV!.list({ limit: 2, ...(cursor !== undefined ? { cursor } : {}) })) as {
      keys: Array<{ name: string }>;
      list_complete: boolean;
      cursor?: string;
    };
    seen.push(...page.keys.map((k) => k.name));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  const byteOrder = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  expect(seen).toEqual(byteOrder);
  expect(((await env.KV!.list({ prefix: "p:" })) as { keys: Array<{ name: string }> }).keys.map((k) => k.name)).toEqual([
    "p:",
    "p:z",
    "p:\u{10ffff}",
    "p:\u{10ffff}x",
  ]);
});

test("prefixEnd bounds a prefix's range in code point order", () => {
  expect(prefixEnd("")).toBe("");
  expect(prefixEnd("ab")).toBe("ac");
  expect(prefixEnd("a\u{10ffff}")).toBe("b");
  expect(prefixEnd("\u{10ffff}")).toBe("");
  expect(prefixEnd("a\ud7ff")).toBe("a\ue000");
});

test("a stream value is counted to its end: over 25 MiB is refused with the full length", async () => {
  const { env } = await bind([{ binding: "KV" }]);
  const chunk = new Uint8Array(1024 * 1024);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 26) return controller.close();
      sent++;
      controller.enqueue(chunk);
    },
  });
  await expect(env.KV!.put("big", stream)).rejects.toThrow(new Error("KV PUT failed: 413 Value length of 27262976 exceeds limit of 26214400."));
  expect(await env.KV!.get("big")).toBeNull();
});
