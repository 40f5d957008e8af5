import { describe, expect, test } from "vitest";
import { DurableObject, Response, Runtime, WebSocketPair, WebSocketRequestResponsePair, silentLogger, type WebSocket } from "../src/index.ts";
import { Room } from "./fixtures.ts";
import { connect, startRuntime } from "./helpers.ts";

describe("hibernatable WebSocket API over real sockets", () => {
  test("tags: getTags, getWebSockets(tag), broadcast to all", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/r1?tag=red&tag=team:1&user=ann`);
    const b = await connect(`${wsUrl}/ROOM/r1?tag=blue&user=bob`);
    a.send("tags");
    expect(JSON.parse(String(await a.next()))).toEqual(["red", "team:1"]);
    a.send("count red");
    expect(await a.next()).toBe("1");
    a.send("count");
    expect(await a.next()).toBe("2");
    a.send("count nobody");
    expect(await a.next()).toBe("0");
    b.send("broadcast hello");
    expect(await a.next()).toBe("from bob: hello");
    expect(await b.next()).toBe("from bob: hello");
  });

  test("attachments: structured clone, a fresh copy on every read, size limit with a clear error", async () => {
    const { wsUrl, logger } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/att?user=ann`);
    a.send("whoami");
    expect(JSON.parse(String(await a.next()))).toEqual({ user: "ann", joined: 1 });
    a.send(`attach ${JSON.stringify({ big: "x".repeat(3000) })}`);
    a.send("whoami");
    // The oversized attachment threw inside the handler (reported, not sent), and the old one stays.
    expect(JSON.parse(String(await a.next()))).toEqual({ user: "ann", joined: 1 });
    const error = logger.entries.find((e) => e.level === "error")?.fields?.error as { code: string; message: string };
    expect(error.code).toBe("ERR_ATTACHMENT_TOO_LARGE");
    expect(error.message).toMatch(/^A WebSocket 'attachment' cannot be larger than 2048 bytes\.'attachment' was 30\d\d bytes\.$/);
  });

  test("attachment values round-trip Map and Date and are copies", async () => {
    let copiesDiffer = false;
    let roundTrip: unknown;
    class A extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        const value = { m: new Map([["k", 1]]), d: new Date(5) };
        server.serializeAttachment(value);
        value.m.set("k", 2);
        const first = server.deserializeAttachment<typeof value>()!;
        first.m.set("k", 3);
        roundTrip = server.deserializeAttachment();
        const [copyA, copyB] = [server.deserializeAttachment(), server.deserializeAttachment()];
        copiesDiffer = copyA !== copyB;
        expect(() => server.serializeAttachment({ f: () => 1 })).toThrow(expect.objectContaining({ name: "DataCloneError", code: 25 }));
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    const { wsUrl } = await startRuntime({ objects: { A } });
    await connect(`${wsUrl}/A/x`);
    expect(roundTrip).toEqual({ m: new Map([["k", 1]]), d: new Date(5) });
    expect(copiesDiffer).toBe(true);
  });

  test("limits: tags, tag length, sockets per object, double accept", async () => {
    const results: Record<string, string> = {};
    class L extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        const attempt = (label: string, fn: () => void) => {
          try {
            fn();
            results[label] = "ok";
          } catch (e) {
            results[label] = (e as { code: string }).code;
          }
        };
        const [, extra] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        attempt("tooMany", () =>
          this.ctx.acceptWebSocket(
            extra,
            Array.from({ length: 11 }, (_, i) => `t${i}`),
          ),
        );
        attempt("tooLong", () => this.ctx.acceptWebSocket(extra, ["x".repeat(257)]));
        attempt("ten", () =>
          this.ctx.acceptWebSocket(
            server,
            Array.from({ length: 10 }, (_, i) => "y".repeat(256) + i).map((t) => t.slice(0, 256)),
          ),
        );
        attempt("again", () => this.ctx.acceptWebSocket(server));
        attempt("againStandard", () => server.accept());
        const [, third] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        attempt("full", () => this.ctx.acceptWebSocket(third));
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    const { wsUrl } = await startRuntime({ objects: { L }, limits: { maxWebSocketsPerObject: 1 } });
    await connect(`${wsUrl}/L/x`);
    expect(results).toEqual({
      tooMany: "ERR_TOO_MANY_TAGS",
      tooLong: "ERR_TAG_TOO_LONG",
      ten: "ok",
      again: "ERR_WEBSOCKET_ALREADY_ACCEPTED",
      againStandard: "ERR_WEBSOCKET_ALREADY_ACCEPTED",
      full: "ERR_TOO_MANY_WEBSOCKETS",
    });
  });

  test("auto-response: answered without waking the object, timestamp recorded, removable", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/auto`);
    a.send("auto ping=pong");
    expect(await a.next()).toBe("ok");
    a.send("autots");
    expect(await a.next()).toBe("null");
    const stub = runtime.namespace("ROOM").getByName("auto");
    await runtime.hibernate(stub);
    const before = runtime.inspect(stub).counters;
    a.send("ping");
    expect(await a.next()).toBe("pong");
    expect(runtime.inspect(stub).state).toBe("hibernated");
    expect(runtime.inspect(stub).counters.constructed).toBe(before.constructed);
    a.send("autots");
    const ts = Number(await a.next());
    expect(ts).toBeGreaterThan(Date.now() - 60_000);
    expect(runtime.inspect(stub).counters.woken).toBe(1);
    a.send("auto");
    expect(await a.next()).toBe("ok");
    a.send("ping");
    expect(await a.next()).toBe("echo:ping");
  });

  test("auto-response pair validation", () => {
    // As on workerd: non-strings are converted, a missing argument is a TypeError.
    expect(new WebSocketRequestResponsePair(1 as never, "x").request).toBe("1");
    expect(() => new (WebSocketRequestResponsePair as new (r: string) => unknown)("x")).toThrow(
      new TypeError("Failed to construct 'WebSocketRequestResponsePair': constructor parameter 2 is not of type 'string'."),
    );
    let code = "";
    class P extends DurableObject {
      probe() {
        try {
          this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("p".repeat(2049), "x"));
        } catch (e) {
          code = (e as { code: string }).code;
        }
        this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
        const pair = this.ctx.getWebSocketAutoResponse();
        return [pair?.request, pair?.response];
      }
    }
    const runtime = new Runtime({ objects: { P }, logger: silentLogger });
    return runtime
      .namespace<P>("P")
      .getByName("p")
      .probe()
      .then((pair) => {
        expect(code).toBe("ERR_AUTO_RESPONSE_TOO_LONG");
        expect(pair).toEqual(["ping", "pong"]);
      });
  });

  test("subprotocol chosen by the object's 101 response", async () => {
    class S extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": "chat.v2" } });
      }
    }
    const { wsUrl } = await startRuntime({ objects: { S } });
    const client = await connect(`${wsUrl}/S/x`, ["chat.v1", "chat.v2"]);
    expect(client.ws.protocol).toBe("chat.v2");
  });

  test("binary messages arrive as ArrayBuffer and echo back", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/bin`);
    a.send(Buffer.from([1, 2, 3]));
    expect([...((await a.next()) as Buffer)]).toEqual([1, 2, 3]);
  });
});
