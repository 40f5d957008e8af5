import { expect, test } from "vitest";
import { DurableObject, Runtime, silentLogger } from "../src/index.ts";

/**
 * A serving runtime collects garbage once it goes idle after a burst of
 * hibernations (idle-collector.ts): V8 collects only when JavaScript
 * allocates, so without this an idle server keeps the burst's garbage, and
 * the weak records of the objects it visited, for good.
 */

class Visited extends DurableObject {
  override async fetch(): Promise<Response> {
    return new Response(String((await this.ctx.storage.get("n")) ?? 0));
  }
}

/** Polls `check` every 100 ms until it holds or `ms` pass. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

async function visitAndHibernate(runtime: Runtime, count: number): Promise<WeakRef<object>> {
  const { url } = await runtime.listen({ port: 0 });
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/V/visitor-${i}`);
    expect(await res.text()).toBe("0");
  }
  const ref = new WeakRef(runtime.hostFor(runtime.namespace("V").idFromName("visitor-0")));
  expect(await runtime.hibernateAll()).toBe(count);
  return ref;
}

test("after a burst of hibernations, an idle serving runtime runs one full collection: the visitors' records go", async () => {
  // Only hibernateAll() hibernates: a loaded machine can take longer than the default hibernateAfterMs (10 s) to
  // visit 150 objects one after another, and the first ones visited would hibernate on their own before it runs.
  const runtime = new Runtime({ objects: { V: Visited }, logger: silentLogger, hibernateAfterMs: 3_600_000 });
  const ref = await visitAndHibernate(runtime, 150);
  expect(await until(() => runtime.metrics.idleCollections >= 1, 30_000)).toBe(true);
  expect(runtime.metrics.idleCollectionMs).toBeGreaterThan(0);
  expect(ref.deref()).toBeUndefined();
  await runtime.close();
});
