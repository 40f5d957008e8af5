import "../src/matchers-setup.ts";
import { expect, test } from "vitest";
import { createTestRuntime, installMatchers } from "../src/index.ts";
import { objects } from "./fixtures.ts";

test("toBeHibernated follows eviction and wakes", async () => {
  const t = createTestRuntime({ objects });
  const stub = t.env.ROOM.getByName("m");
  const ws = await t.connect(stub);
  expect(stub).not.toBeHibernated();
  await t.evictDurableObject(stub);
  expect(stub).toBeHibernated();
  ws.send("count");
  await ws.next();
  expect(stub).not.toBeHibernated();
});

test("toBeHibernatable fails listing the blockers", async () => {
  const t = createTestRuntime({ objects });
  const hibernatable = t.env.ROOM.getByName("ok");
  await t.connect(hibernatable);
  expect(hibernatable).toBeHibernatable();

  const pinned = t.env.ROOM.getByName("pinned");
  await t.connect(pinned, "/?standard");
  expect(pinned).not.toBeHibernatable();
  expect(() => expect(pinned).toBeHibernatable()).toThrow(/expected object "pinned" to be hibernatable, but: 1 WebSocket\(s\) accepted with ws\.accept\(\)/);
  expect(() => expect(pinned).toBeHibernated()).toThrow(/expected object "pinned" to be hibernated, but it is live .*blockers: 1 WebSocket/);
});

test("a hibernated object is hibernatable; installMatchers() is idempotent", async () => {
  installMatchers();
  const t = createTestRuntime({ objects });
  const stub = t.env.COUNTER.getByName("c");
  await stub.increment();
  await t.evictDurableObject(stub);
  expect(stub).toBeHibernatable();
  expect(() => expect(stub).not.toBeHibernated()).toThrow(/not to be hibernated, but it has no live instance \(evicted 1 time/);
});

test("matchers refuse something that is not a stub", () => {
  expect(() => expect({ id: "nope" }).toBeHibernated()).toThrow(/Expected a Durable Object stub/);
});
