/**
 * Commits made durable in the background (`commitAsync`): the output gate
 * holds everything until the test says a commit is on disk.
 */
import { describe, expect, test, vi } from "vitest";
import { connect, startRuntime } from "./helpers.ts";
import { deferredStorage, Writer } from "./deferred-storage.ts";

/** Yields a few turns: enough for anything not held to have gone out. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("output gate with commits made durable in the background", () => {
  test("acks wait for their batch to be durable; later output waits behind it, in order", async () => {
    const { provider, pending } = deferredStorage();
    const { wsUrl } = await startRuntime({ objects: { W: Writer }, storage: provider });
    const client = await connect(`${wsUrl}/W/a`);
    const seen: string[] = [];
    client.ws.on("message", (m) => seen.push(String(m)));
    client.send("write 1");
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    client.send("read 2"); // no write: still held behind batch 1
    client.send("write 3"); // a second batch while the first is in flight
    await vi.waitFor(() => expect(pending).toHaveLength(2));
    await turns();
    expect(seen).toEqual([]);
    pending[0]!.resolve();
    await vi.waitFor(() => expect(seen).toEqual(["ack 1", "pong 2"]));
    await turns();
    expect(seen).toEqual(["ack 1", "pong 2"]);
    pending[1]!.resolve();
    await vi.waitFor(() => expect(seen).toEqual(["ack 1", "pong 2", "ack 3"]));
  });

  test("an RPC result waits for durability; a failed one is never acknowledged and resets the object", async () => {
    const { provider, pending } = deferredStorage();
    const { runtime, wsUrl, logger } = await startRuntime({ objects: { W: Writer }, storage: provider });
    const stub = runtime.namespace<Writer>("W").getByName("b");
    let settled = false;
    const first = stub.write(1).finally(() => (settled = true));
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    await turns();
    expect(settled).toBe(false);
    pending[0]!.resolve();
    expect(await first).toBe(1);

    const client = await connect(`${wsUrl}/W/b`);
    const second = stub.write(2);
    client.send("write 3");
    await vi.waitFor(() => expect(pending.length).toBeGreaterThanOrEqual(2));
    pending[1]!.reject(new Error("EIO: fsync failed"));
    await expect(second).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
    expect((await client.closed).code).toBe(1011);
    expect(logger.entries.some((e) => e.level === "error" && e.message.includes("commit failed"))).toBe(true);
  });
});
