import { describe, expect, test, vi } from "vitest";
import { DurableObject, Response, WebSocketPair, type WebSocket } from "../src/index.ts";
import { memoryStorage, type ObjectKey, type ObjectStorage, type StorageHooks, type StorageProvider } from "../src/storage/index.ts";
import { connect, startRuntime } from "./helpers.ts";

/**
 * A provider whose commits become durable in the background (`commitAsync`,
 * as SQLite at FULL does to overlap fsyncs): the test decides when each
 * commit is on disk, and the output gate must hold everything until then.
 */
function deferredDurability() {
  const base = memoryStorage();
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
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
          return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
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
  return { provider, pending };
}

class Writer extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    const [verb, n] = String(message).split(" ");
    if (verb === "write") {
      await this.ctx.storage.put("n", Number(n));
      ws.send(`ack ${n}`);
    } else {
      ws.send(`pong ${n}`);
    }
  }
  async write(n: number) {
    await this.ctx.storage.put("n", n);
    return n;
  }
}

/** Yields a few turns: enough for anything not held to have gone out. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("output gate with commits made durable in the background", () => {
  test("acks wait for their batch to be durable; later output waits behind it, in order", async () => {
    const { provider, pending } = deferredDurability();
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
    const { provider, pending } = deferredDurability();
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
