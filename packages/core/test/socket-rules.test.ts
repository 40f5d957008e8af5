import { expect, test } from "vitest";
import { DurableObject, Response, VirtualClock, WebSocketPair, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

/** Torpor's stable code, or the name of a DOMException (whose code is numeric). */
function codeOf(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    const { code, name } = error as { code: unknown; name: string };
    return typeof code === "string" ? code : name;
  }
}

test("send before accept, send after close, and bad close codes or reasons are refused with stable codes", async () => {
  const results: Record<string, string> = {};
  class Rules extends DurableObject {
    override fetch() {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      results.sendBeforeAccept = codeOf(() => server.send("x"));
      this.ctx.acceptWebSocket(server);
      results.reservedCode = codeOf(() => server.close(1005));
      results.outOfRange = codeOf(() => server.close(5000));
      results.longReason = codeOf(() => server.close(1000, "r".repeat(124)));
      return new Response(null, { status: 101, webSocket: client });
    }
    override webSocketMessage(ws: WebSocket) {
      ws.close(1000, "done");
      results.sendAfterClose = codeOf(() => ws.send("late"));
      results.closeTwice = codeOf(() => ws.close(1000));
    }
  }
  const { wsUrl } = await startRuntime({ objects: { R: Rules } });
  const client = await connect(`${wsUrl}/R/x`);
  client.send("go");
  expect(await client.closed).toEqual({ code: 1000, reason: "done" });
  expect(results).toEqual({
    sendBeforeAccept: "ERR_WEBSOCKET_NOT_ACCEPTED",
    reservedCode: "InvalidAccessError",
    outOfRange: "InvalidAccessError",
    longReason: "SyntaxError",
    sendAfterClose: "ERR_WEBSOCKET_CLOSED",
    closeTwice: "ok",
  });
});

test("a handler running past the hibernatable event timeout is abandoned, reported, and stops pinning the object", async () => {
  const clock = new VirtualClock();
  class Stuck extends DurableObject {
    override fetch() {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server);
      this.ctx.setHibernatableWebSocketEventTimeout(5_000);
      return new Response(null, { status: 101, webSocket: client });
    }
    override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
      if (message === "hang") await new Promise(() => {});
      ws.send(`timeout=${this.ctx.getHibernatableWebSocketEventTimeout()}`);
    }
  }
  const { runtime, wsUrl, logger } = await startRuntime({ objects: { S: Stuck }, clock, hibernateAfterMs: 60_000 });
  const client = await connect(`${wsUrl}/S/x`);
  const stub = runtime.namespace("S").getByName("x");
  client.send("hang");
  client.send("after");
  expect(await client.next()).toBe("timeout=5000");
  expect(runtime.inspect(stub).blockers).toEqual([expect.stringMatching(/1 event\(s\) in flight/)]);
  await clock.advance(5_000);
  expect(runtime.inspect(stub).blockers).toEqual([]);
  const entry = logger.entries.find((e) => e.level === "error")!;
  expect((entry.fields!.error as { code: string }).code).toBe("ERR_EVENT_TIMEOUT");
  await runtime.hibernate(stub);
  expect(runtime.inspect(stub).state).toBe("hibernated");
});

test("setHibernatableWebSocketEventTimeout rejects nonsense", async () => {
  let code = "";
  class T extends DurableObject {
    probe() {
      code = codeOf(() => this.ctx.setHibernatableWebSocketEventTimeout(-5));
    }
  }
  const { runtime } = await startRuntime({ objects: { T } });
  await runtime.namespace<T>("T").getByName("t").probe();
  expect(code).toBe("ERR_INVALID_ARGUMENT");
});

test("close() follows workerd: code coercion, no reason without a code, no close before accept", async () => {
  const results: Record<string, string> = {};
  class Closer extends DurableObject {
    override fetch() {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      results.beforeAccept = codeOf(() => server.close(1000));
      this.ctx.acceptWebSocket(server);
      results.reasonWithoutCode = codeOf(() => server.close(undefined, "why"));
      results.reserved1006 = codeOf(() => server.close(1006));
      results.reserved1015 = codeOf(() => server.close(1015));
      return new Response(null, { status: 101, webSocket: client });
    }
    override webSocketMessage(ws: WebSocket) {
      // A numeric string is converted as workerd does (WebIDL unsigned short).
      ws.close("4321" as unknown as number, "string code");
    }
  }
  const { wsUrl } = await startRuntime({ objects: { C: Closer } });
  const client = await connect(`${wsUrl}/C/x`);
  client.send("go");
  expect(await client.closed).toEqual({ code: 4321, reason: "string code" });
  expect(results).toEqual({
    beforeAccept: "ERR_WEBSOCKET_NOT_ACCEPTED",
    reasonWithoutCode: "InvalidAccessError",
    reserved1006: "InvalidAccessError",
    reserved1015: "InvalidAccessError",
  });
});

test("tags follow workerd: non-strings are converted and length is measured in UTF-8 bytes", async () => {
  const results: Record<string, unknown> = {};
  class Tagger extends DurableObject {
    override fetch() {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      const [, extra] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      results.multibyte = codeOf(() => this.ctx.acceptWebSocket(extra, ["é".repeat(129)]));
      this.ctx.acceptWebSocket(server, [1 as unknown as string, "é".repeat(128)]);
      results.tags = this.ctx.getTags(server);
      return new Response(null, { status: 101, webSocket: client });
    }
  }
  const { wsUrl } = await startRuntime({ objects: { T: Tagger } });
  await connect(`${wsUrl}/T/x`);
  expect(results).toEqual({ multibyte: "ERR_TAG_TOO_LONG", tags: ["1", "é".repeat(128)] });
});

test("close codes 1016–2999 are accepted, as on workerd, and their Close frame carries the code (ws refuses to send them)", async () => {
  class Unlisted extends DurableObject {
    override fetch() {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server);
      return new Response(null, { status: 101, webSocket: client });
    }
    override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
      ws.close(Number(message), "unlisted");
    }
  }
  const { wsUrl } = await startRuntime({ objects: { U: Unlisted } });
  for (const code of [1016, 2999]) {
    const client = await connect(`${wsUrl}/U/${code}`);
    const frames: Buffer[] = [];
    // The raw bytes from the server: a Close frame (0x88), its length, the code and the reason.
    (client.ws as unknown as { _socket: import("node:net").Socket })._socket.prependListener("data", (chunk: Buffer) => void frames.push(chunk));
    client.send(String(code));
    await client.closed;
    const bytes = Buffer.concat(frames);
    const at = bytes.indexOf(0x88);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(bytes.readUInt16BE(at + 2)).toBe(code);
    expect(bytes.subarray(at + 4, at + 2 + bytes[at + 1]!).toString()).toBe("unlisted");
  }
});
