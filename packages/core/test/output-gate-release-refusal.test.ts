/**
 * A storage may refuse, at the instant of release, output held behind
 * commits that are durable (`refuseRelease`: a cluster node past its lease
 * deadline). The gate asks in the same synchronous step as the release, so
 * a refusal that starts after the commit became durable, but before its
 * output left, still stops it; callers get the storage's error as it is.
 */
import { describe, expect, test, vi } from "vitest";
import { TorporError } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";
import { deferredStorage, Writer } from "./deferred-storage.ts";

const lost = () => new TorporError("ERR_CLUSTER_LEASE_LOST", "lease deadline passed before the output could be released; the commit may be durable");

describe("output gate: the storage's last word at release", () => {
  test("a refusal that starts after the commit became durable, before the release, stops its output", async () => {
    const { provider, pending, state } = deferredStorage();
    const { runtime, wsUrl } = await startRuntime({ objects: { W: Writer }, storage: provider });
    const stub = runtime.namespace<Writer>("W").getByName("a");
    const first = stub.write(1);
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    pending[0]!.resolve();
    expect(await first).toBe(1);
    expect(state.asked).toBe(1);

    const client = await connect(`${wsUrl}/W/a`);
    const seen: string[] = [];
    client.ws.on("message", (m) => seen.push(String(m)));
    const call = stub.write(2);
    client.send("write 3");
    await vi.waitFor(() => expect(pending.length).toBeGreaterThanOrEqual(2));
    const refusal = lost();
    // Durable first; the refusal starts in the same turn, before the gate's reaction to it runs.
    for (const done of pending.splice(1)) done.resolve();
    state.refusal = refusal;
    await expect(call).rejects.toBe(refusal);
    expect((await client.closed).code).toBe(1012);
    expect(seen).toEqual([]);

    // Output may leave again: the object runs on a fresh instance, with what was durable.
    state.refusal = null;
    const read = stub.read();
    expect(await read).toBe(3);
  });
});
