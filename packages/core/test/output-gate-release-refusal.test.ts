/**
 * A storage may refuse, at the instant of release, output held behind
 * commits that are durable (`refuseRelease`: a cluster node past its lease
 * deadline). The gate asks in the same synchronous step as the release, so
 * a refusal that starts after the commit became durable, but before its
 * output left, still stops it; callers get the storage's error as it is.
 */
import { describe, expect, test, vi } from "vitest";
import { DurableObject, Response, TorporError, WebSocketPair, type WebSocket } from "../src/index.ts";
import { memoryStorage, type ObjectKey, type ObjectStorage, type StorageHooks, type StorageProvider } from "../src/storage/index.ts";
import { connect, startRuntime } from "./helpers.ts";

/** Commits the test makes durable by hand; `refusal` is what `refuseRelease()` answers at each release. */
function refusingStorage() {
  const base = memoryStorage();
  const pending: Array<() => void> = [];
  const state = { refusal: null as Error | null, asked: 0 };
  const provider: StorageProvider = {
    open(key: ObjectKey, hooks: StorageHooks): ObjectStorage {
      const inner = base.open(key, hooks);
      return {
        get api() {
          return inner.api;
        },
        get hasPendingWrites() {
          return inner.hasPendingWrites;
        },
        commit: () => inner.commit(),
        commitAsync: () => {
          inner.commit();
          return new Promise<void>((resolve) => pending.push(resolve));
        },
        refuseRelease: () => {
          state.asked++;
          return state.refusal;
        },
        rollback: () => inner.rollback(),
        alarmTime: () => inner.alarmTime(),
        clearAlarmIfUnchanged: (t) => inner.clearAlarmIfUnchanged(t),
        close: () => inner.close(),
      };
    },
    listAlarms: () => base.listAlarms(),
    listObjects: (ns) => base.listObjects(ns),
    close: () => base.close(),
  };
  return { provider, pending, state };
}

class Writer extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    await this.ctx.storage.put("n", Number(message));
    ws.send(`ack ${String(message)}`);
  }
  async write(n: number) {
    await this.ctx.storage.put("n", n);
    return n;
  }
  async read() {
    return (await this.ctx.storage.get<number>("n")) ?? null;
  }
}

const lost = () => new TorporError("ERR_CLUSTER_LEASE_LOST", "lease deadline passed before the output could be released; the commit may be durable");

describe("output gate: the storage's last word at release", () => {
  test("a refusal that starts after the commit became durable, before the release, stops its output", async () => {
    const { provider, pending, state } = refusingStorage();
    const { runtime, wsUrl } = await startRuntime({ objects: { W: Writer }, storage: provider });
    const stub = runtime.namespace<Writer>("W").getByName("a");
    const first = stub.write(1);
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    pending[0]!();
    expect(await first).toBe(1);
    expect(state.asked).toBe(1);

    const client = await connect(`${wsUrl}/W/a`);
    const seen: string[] = [];
    client.ws.on("message", (m) => seen.push(String(m)));
    const call = stub.write(2);
    client.send("3");
    await vi.waitFor(() => expect(pending.length).toBeGreaterThanOrEqual(2));
    const refusal = lost();
    // Durable first; the refusal starts in the same turn, before the gate's reaction to it runs.
    for (const done of pending.splice(1)) done();
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
