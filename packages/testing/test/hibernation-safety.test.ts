import { describe, expect, test } from "vitest";
import { createTestRuntime, type TestRuntime, type Transport } from "../src/index.ts";
import { objects } from "./fixtures.ts";

/**
 * The same chat test, run with and without a forced eviction between joining
 * and talking. It returns what bob saw when alice spoke.
 */
async function aliceSaysHi(t: TestRuntime<typeof objects>, binding: "NAIVE" | "SAFE", options: { evict: boolean }): Promise<string> {
  const room = t.env[binding].getByName("room");
  const alice = await t.connect(room, "/?name=alice");
  const bob = await t.connect(room, "/?name=bob");
  if (options.evict) {
    await t.evictDurableObject(room, { webSockets: "hibernate" });
    expect(t.lifecycle(room)).toMatchObject({ state: "hibernated", sockets: 2 });
  }
  alice.send("hi");
  const seen = await bob.next();
  expect(t.lifecycle(room)).toMatchObject({ constructed: options.evict ? 2 : 1, woken: options.evict ? 1 : 0 });
  return seen as string;
}

describe.each<Transport>(["memory", "tcp"])("the hibernation-safety bug class is caught (%s)", (transport) => {
  test("per-socket state in an instance field: the naive test passes, the same test after eviction breaks", async () => {
    const naive = createTestRuntime({ objects, transport });
    expect(await aliceSaysHi(naive, "NAIVE", { evict: false })).toBe("alice: hi");

    const evicted = createTestRuntime({ objects, transport });
    // The Map<WebSocket, name> died with the evicted instance; the woken one never saw alice join.
    expect(await aliceSaysHi(evicted, "NAIVE", { evict: true })).toBe("undefined: hi");
  });

  test("per-socket state in the socket's attachment: passes both", async () => {
    const plain = createTestRuntime({ objects, transport });
    expect(await aliceSaysHi(plain, "SAFE", { evict: false })).toBe("alice: hi");
    const evicted = createTestRuntime({ objects, transport });
    expect(await aliceSaysHi(evicted, "SAFE", { evict: true })).toBe("alice: hi");
  });
});
