/**
 * A storage whose commits become durable in the background (`commitAsync`,
 * as SQLite at FULL does to overlap fsyncs) when the test says so, and which
 * may refuse the release of output held behind them (`refuseRelease`, as a
 * cluster node past its lease deadline does); with the object the output-gate
 * tests drive over it.
 */
import { DurableObject, Response, WebSocketPair, type WebSocket } from "../src/index.ts";
import { memoryStorage, type ObjectKey, type ObjectStorage, type StorageHooks, type StorageProvider } from "../src/storage/index.ts";

/**
 * `pending`: one entry per commit, in commit order, that the test settles to make it durable (or failed);
 * `state.refusal`: what `refuseRelease()` answers at each release (null: release), `state.asked` how often it was asked.
 */
export function deferredStorage() {
  const base = memoryStorage();
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
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
          return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
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

/** Accepts hibernatable sockets; on them, "write n" stores n and acks it, anything else ("read n") answers "pong n". */
export class Writer extends DurableObject {
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
  async read() {
    return (await this.ctx.storage.get<number>("n")) ?? null;
  }
}
