import { env, SELF } from "cloudflare:test";
import { expect, test } from "vitest";

// bindings-a and bindings-b write the same KV key: each file must start with an empty namespace.
test("KV from the wrangler config is in env, empty for this file", async () => {
  expect(await env.CACHE.get("writer")).toBeNull();
  await env.CACHE.put("writer", "a", { metadata: { file: "a" } });
  expect(await env.CACHE.getWithMetadata("writer")).toEqual({ value: "a", metadata: { file: "a" }, cacheStatus: null });
});

test("the Worker sees the same namespace", async () => {
  expect(await (await SELF.fetch("http://x/kv/writer")).text()).toBe("a");
});
