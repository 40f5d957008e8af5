import { env, listDurableObjectIds } from "cloudflare:test";
import { expect, test } from "vitest";

// isolation-a and isolation-b write the same object: each must start from nothing, whichever runs first.
test("this file starts with no objects and no data", async () => {
  expect(await listDurableObjectIds(env.BOX)).toEqual([]);
  expect(await env.BOX.getByName("shared").get("writer")).toBeUndefined();
  await env.BOX.getByName("shared").put("writer", "a");
});

test("tests of one file share storage", async () => {
  expect(await env.BOX.getByName("shared").get("writer")).toBe("a");
});
