/**
 * The output gate of an object on the PostgreSQL provider while a
 * `transaction()` closure is open: the commit asked for at the end of the
 * turn is deferred until the closure ends, so nothing sent inside the closure
 * may leave before the closure's batch is committed and its fenced append is
 * durable in PostgreSQL. (The provider once returned the promise of shipping
 * whatever was already committed, such as a fresh database's schema, and the
 * gate took it for the closure's batch.)
 *
 * The probe is the hibernation auto-response: it is answered by the runtime
 * without the object or its gate, on the same connection, so a message the
 * gate released earlier arrives before it and a held one after it.
 */
import { rmSync } from "node:fs";
import { describe, expect, onTestFinished } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, silentLogger, WebSocketPair, WebSocketRequestResponsePair, type WebSocket } from "@torpor/core";
import { startTestStorage } from "./fixtures/node-harness.ts";
import { openFresh, pgIt, usePgServer } from "./pg-fixture.ts";
import { restoredRows } from "./restored-rows.ts";

const pg = usePgServer();

type Ctx = ConstructorParameters<typeof DurableObject>[0];

/** Controls for the closure, set by each test: the closure says it is waiting, and waits for the test. */
let closureWaiting: () => void = () => {};
let closureMayEnd: Promise<void> = Promise.resolve();

class Closer extends DurableObject {
  constructor(ctx: Ctx, env: never) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket) {
    await this.ctx.storage.transaction(async (txn) => {
      await txn.put("x", "written in the closure");
      ws.send("sent in the closure");
      closureWaiting();
      await closureMayEnd;
    });
  }
}

/** The next turn of the event loop (everything queued before it, timers aside, has run). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("output gate while a transaction() closure is open (PostgreSQL provider)", () => {
  pgIt("a message sent inside the closure leaves only after the closure's batch is durable in PostgreSQL", async () => {
    const url = pg.get().url;
    const db = await openFresh(url);
    onTestFinished(() => db.close());
    const { dir, lease, shipper, storage } = await startTestStorage(db, "a");
    const runtime = new Runtime({ objects: { CLOSER: Closer }, storage, logger: silentLogger });
    const { url: httpUrl } = await runtime.listen({ port: 0 });
    onTestFinished(async () => {
      lease.stop();
      await runtime.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    });

    let waiting!: () => void;
    const reached = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    let endClosure!: () => void;
    closureWaiting = waiting;
    closureMayEnd = new Promise<void>((resolve) => {
      endClosure = resolve;
    });
    onTestFinished(() => endClosure());

    const ws = new WsClient(`${httpUrl.replace("http", "ws")}/CLOSER/fresh`);
    onTestFinished(() => ws.terminate());
    const received: string[] = [];
    const arrivals: Array<() => void> = [];
    ws.on("message", (data) => {
      received.push(String(data));
      arrivals.shift()?.();
    });
    const message = (n: number) =>
      received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => arrivals.push(() => received.length >= n && resolve()));
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });

    ws.send("go");
    await reached;
    // The gate's end-of-turn commit (scheduled by the put) runs in the next turn; whatever it shipped is then
    // awaited, and one more turn lets the gate release what that shipment held.
    await nextTurn();
    await shipper.idle();
    await nextTurn();
    ws.send("ping");
    await message(1);
    expect(received, "the closure is still open: its message must be held, so the auto-response comes first").toEqual(["pong"]);

    endClosure();
    await message(2);
    expect(received).toEqual(["pong", "sent in the closure"]);
    // The message left, so the closure's write is durable in PostgreSQL: an object rebuilt from the log holds it.
    const restored = await restoredRows(url, "SELECT key FROM _cf_KV", db.tables.schema);
    expect(restored.get("fresh")).toEqual([{ key: "x" }]);
  });
});
