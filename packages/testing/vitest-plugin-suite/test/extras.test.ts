import { env, evictDurableObject } from "cloudflare:test";
import { workerRuntime } from "@torpor/testing";
import "@torpor/testing/matchers";
import { expect, test } from "vitest";

test("Torpor's verbs work on the plugin's runtime", async () => {
  const stub = env.BOX.getByName("extras");
  const t = workerRuntime();
  const ws = await t.connect(stub, "/");
  await evictDurableObject(stub);
  expect(stub).toBeHibernated();
  ws.send("wake");
  expect(await ws.next()).toBe("echo wake");
  expect(t.lifecycle(stub)).toMatchObject({ state: "live", constructed: 2, woken: 1 });
  expect(t.hibernationBlockers(stub)).toEqual([]);
});

test("the config's torpor section reaches the runtime", () => {
  expect(workerRuntime().runtime.options.limits.maxAttachmentBytes).toBe(4096);
});
