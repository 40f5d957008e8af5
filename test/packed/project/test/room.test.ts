import { expect, test } from "vitest";
import { createTestRuntime } from "@torpor/testing";
import "@torpor/testing/matchers";
import { Room } from "../src/index.js";

test("the count survives hibernation", async () => {
  const t = createTestRuntime({ objects: { ROOM: Room } });
  const room = t.env.ROOM.getByName("lobby");
  const ws = await t.connect(room, "/");

  ws.send("hello");
  expect(await ws.next()).toBe("1: hello");

  await t.evictDurableObject(room); // the instance is dropped, the socket stays open
  expect(room).toBeHibernated();

  ws.send("again"); // wakes a fresh instance, which reads the count from storage
  expect(await ws.next()).toBe("2: again");
  expect(t.lifecycle(room)).toMatchObject({ constructed: 2, woken: 1 });
});
