import { env, SELF } from "cloudflare:test";
import { expect, test } from "vitest";

// bindings-b and bindings-a write the same KV key: each file must start with an empty namespace.
test("KV from the wrangler config is in env, empty for this file", async () => {
  expect(await env.CACHE.get("writer")).toBeNull();
  await env.CACHE.put("writer", "b", { metadata: { file: "b" } });
  expect(await env.CACHE.getWithMetadata("writer")).toEqual({ value: "b", metadata: { file: "b" }, cacheStatus: null });
});

test("the Worker sees the same namespace", async () => {
  expect(await (await SELF.fetch("http://x/kv/writer")).text()).toBe("b");
});
