import { env, listDurableObjectIds } from "cloudflare:test";
import { expect, it } from "vitest";

// isolation-1 and isolation-2 use the same object: each must find it new, whichever file runs first.
it("starts with no objects and no data", async () => {
  expect(await listDurableObjectIds(env.COUNTER)).toEqual([]);
  expect(await env.COUNTER.getByName("shared").increment(1)).toBe(1);
});

it("shares storage between the tests of one file", async () => {
  expect(await env.COUNTER.getByName("shared").getCount()).toBe(1);
});
