import { Socket } from "node:net";
import { describe, expect, test, vi } from "vitest";
import { DurableObject, Response, WebSocketPair, type WebSocket } from "../src/index.ts";
import { Room, closeLog } from "./fixtures.ts";
import { connect, startRuntime } from "./helpers.ts";

describe("event dispatch", () => {
  test("peer Close on a hibernatable socket: readyState is CLOSING in webSocketClose and its close() is the reply (as on workerd)", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/close`);
    const b = await connect(`${wsUrl}/ROOM/close`);
    closeLog.length = 0;
    a.close(4001, "see you");
    expect(await a.closed).toEqual({ code: 1000, reason: "late" });
    await vi.waitFor(() => expect(closeLog).toHaveLength(1));
    // As on workerd, the closing socket is still listed while webSocketClose runs, and removed after.
    expect(closeLog[0]).toEqual({ code: 4001, reason: "see you", wasClean: true, readyState: 2, remaining: 2 });
    await vi.waitFor(() => expect(runtime.inspect(runtime.namespace("ROOM").getByName("close")).sockets).toBe(1));
    b.send("still here");
    expect(await b.next()).toBe("echo:still here");
  });

  test("a Close the handler leaves unanswered is answered with the peer's code once webSocketClose returns", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/no-reply`);
    closeLog.length = 0;
    a.close(4002, "no-reply");
    expect(await a.closed).toEqual({ code: 4002, reason: "no-reply" });
    expect(closeLog).toEqual([{ code: 4002, reason: "no-reply", wasClean: true, readyState: 2, remaining: 1 }]);
    await vi.waitFor(() => expect(runtime.inspect(runtime.namespace("ROOM").getByName("no-reply")).sockets).toBe(0));
  });

  test("a dropped TCP connection gives webSocketClose(1006, wasClean false), readyState CLOSING as on workerd", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/drop`);
    closeLog.length = 0;
    a.ws.terminate();
    await vi.waitFor(() => expect(closeLog).toHaveLength(1));
    expect(closeLog[0]).toMatchObject({ code: 1006, reason: "WebSocket disconnected without sending Close frame.", wasClean: false, readyState: 2 });
  });

  test("the object closing a socket sends the code and reason", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/server-close`);
    a.send("close");
    expect(await a.closed).toEqual({ code: 4000, reason: "bye" });
  });

  test("a throwing handler is logged and counted; the socket, other sockets and the server go on", async () => {
    const { runtime, wsUrl, logger } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/throws`);
    const b = await connect(`${wsUrl}/ROOM/throws`);
    a.send("throw on purpose");
    a.send("after");
    expect(await a.next()).toBe("echo:after");
    b.send("other");
    expect(await b.next()).toBe("echo:other");
    const entry = logger.entries.find((e) => e.level === "error")!;
    expect(entry.message).toBe("Uncaught error in webSocketMessage()");
    expect((entry.fields!.error as Error).message).toBe("boom: on purpose");
    expect(runtime.inspect(runtime.namespace("ROOM").getByName("throws")).counters.errors).toBe(1);
    expect(runtime.metrics.handlerErrors).toBe(1);
  });

  test("a handler awaiting a timer lets the next events in (5 in flight at once, as on workerd)", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let allIn = false;
    class Concurrent extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
      }
      override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (inFlight === 5) allIn = true;
        // Timers until all five are in (bounded): under load the frames may arrive further apart than one short timer.
        const deadline = Date.now() + 4_000;
        do await new Promise((r) => setTimeout(r, 5));
        while (!allIn && Date.now() < deadline);
        inFlight--;
        ws.send(`done ${String(message)}`);
      }
    }
    const { wsUrl } = await startRuntime({ objects: { C: Concurrent } });
    const a = await connect(`${wsUrl}/C/x`);
    for (let i = 0; i < 5; i++) a.send(String(i));
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await a.next());
    // They finish in whatever order their timers fire.
    expect(replies.sort()).toEqual(["done 0", "done 1", "done 2", "done 3", "done 4"]);
    expect(maxInFlight).toBe(5);
  });

  test("a handler awaiting only storage holds the input gate: read-modify-write never interleaves", async () => {
    let interleaved = false;
    let inside = false;
    class Counter extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
      }
      override async webSocketMessage(ws: WebSocket) {
        if (inside) interleaved = true;
        inside = true;
        const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
        await this.ctx.storage.get("other");
        await this.ctx.storage.put("n", n);
        inside = false;
        ws.send(String(n));
      }
    }
    const { wsUrl } = await startRuntime({ objects: { C: Counter } });
    const clients = await Promise.all([1, 2, 3].map(() => connect(`${wsUrl}/C/x`)));
    // Pipelined: several frames reach the server in one TCP chunk.
    for (const c of clients) for (let i = 0; i < 10; i++) c.send("inc");
    const seen: number[] = [];
    for (const c of clients) for (let i = 0; i < 10; i++) seen.push(Number(await c.next()));
    expect(interleaved).toBe(false);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  test("blockConcurrencyWhile holds every other event until it settles", async () => {
    const order: string[] = [];
    class B extends DurableObject {
      async slow() {
        await this.ctx.blockConcurrencyWhile(async () => {
          order.push("block start");
          await new Promise((r) => setTimeout(r, 20));
          order.push("block end");
        });
      }
      fast() {
        order.push("fast");
      }
    }
    const { runtime } = await startRuntime({ objects: { B } });
    const stub = runtime.namespace<B>("B").getByName("b");
    await Promise.all([stub.slow(), stub.fast()]);
    expect(order).toEqual(["block start", "block end", "fast"]);
  });

  test("sends after a storage write are released only once the write is committed (output gate)", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/gate`);
    const stub = runtime.namespace("ROOM").getByName("gate");
    a.send("put value-1");
    expect(await a.next()).toBe("stored");
    const storage = runtime.hostFor(stub).storage!;
    expect(storage.hasPendingWrites).toBe(false);
    a.send("get");
    expect(await a.next()).toBe("value-1");
  });

  test("a client that never finishes the handshake does not disturb the server", async () => {
    const { port, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const raw = new Socket();
    await new Promise<void>((r) => raw.connect(port, "127.0.0.1", r));
    raw.write("GET /ROOM/x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    const answer = await new Promise<string>((r) => raw.once("data", (d) => r(d.toString())));
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    raw.destroy();
    const ok = await connect(`${wsUrl}/ROOM/x`);
    ok.send("fine");
    expect(await ok.next()).toBe("echo:fine");
  });
});

describe("allowHalfOpen", () => {
  test("with accept({ allowHalfOpen: true }) the application answers the Close frame itself", async () => {
    const seen: Array<{ code: number; readyState: number }> = [];
    class HalfOpenProxy extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        server.accept({ allowHalfOpen: true });
        server.addEventListener("close", (event) => {
          seen.push({ code: event.code, readyState: server.readyState });
          // Answer later, with a different code, as a proxy relaying the far side would.
          setImmediate(() => server.close(4002, "relayed"));
        });
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    const { wsUrl } = await startRuntime({ objects: { P: HalfOpenProxy } });
    const client = await connect(`${wsUrl}/P/x`);
    client.close(4000, "done");
    expect(await client.closed).toEqual({ code: 4002, reason: "relayed" });
    expect(seen).toEqual([{ code: 4000, readyState: 2 }]);
  });

  test("a compatibility date before 2026-04-07 makes standard sockets half-open (web_socket_auto_reply_to_close off); the flag turns it back on", async () => {
    const seen: Array<{ code: number; readyState: number }> = [];
    class Late extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        server.accept();
        server.addEventListener("close", (event) => {
          seen.push({ code: event.code, readyState: server.readyState });
          setImmediate(() => server.close(4003, "answered late"));
        });
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    const old = await startRuntime({ objects: { L: Late }, compatibilityDate: "2026-01-01" });
    const client = await connect(`${old.wsUrl}/L/x`);
    client.close(4000, "done");
    expect(await client.closed).toEqual({ code: 4003, reason: "answered late" });
    expect(seen).toEqual([{ code: 4000, readyState: 2 }]);
    seen.length = 0;
    const flagged = await startRuntime({ objects: { L: Late }, compatibilityDate: "2026-01-01", compatibilityFlags: ["web_socket_auto_reply_to_close"] });
    const other = await connect(`${flagged.wsUrl}/L/x`);
    other.close(4000, "done");
    expect(await other.closed).toEqual({ code: 4000, reason: "done" });
    expect(seen).toEqual([{ code: 4000, readyState: 3 }]);
  });

  test("without it the runtime replies at once, echoing the peer's code", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const client = await connect(`${wsUrl}/ROOM/no-half-open?standard=1`);
    client.close(4000, "done");
    expect(await client.closed).toEqual({ code: 4000, reason: "done" });
  });
});
