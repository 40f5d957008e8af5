/**
 * A text message sent back or relayed while it is being delivered goes out as the bytes it
 * arrived as (no second UTF-8 encode, ws's Buffer write path), and every other send is unchanged:
 * the clients get the same text frames either way, non-ASCII included.
 */
import { afterEach, beforeEach, expect, test } from "vitest";
import { WebSocket as WsConnection } from "ws";
import { DurableObject, Response, WebSocketPair, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

class Relay extends DurableObject {
  override fetch() {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    if (typeof message !== "string") return;
    if (message.startsWith("held ")) {
      // Held by the output gate until the write commits: sent after the delivery ended.
      await this.ctx.storage.put("last", message);
      ws.send(message);
    } else if (message.startsWith("copy ")) {
      // An equal string built anew (same text: the received bytes are right for it too).
      ws.send(`copy ${message.slice(5)}`);
    } else if (message.startsWith("other ")) {
      ws.send(`reply to ${message.slice(6)}`);
    } else {
      for (const peer of this.ctx.getWebSockets()) peer.send(message);
    }
  }
}

/** What the server side handed to ws's send(): a Buffer (the received bytes) or a string. */
let serverSends: Array<"bytes" | "string"> = [];
const originalSend = WsConnection.prototype.send;
beforeEach(() => {
  serverSends = [];
  WsConnection.prototype.send = function (this: WsConnection & { _isServer: boolean }, data: unknown, ...rest: unknown[]) {
    if (this._isServer) serverSends.push(typeof data === "string" ? "string" : "bytes");
    return (originalSend as (...args: unknown[]) => void).call(this, data, ...rest);
  } as typeof originalSend;
});
afterEach(() => {
  WsConnection.prototype.send = originalSend;
});

test("an echo or relay of the text being delivered reuses its bytes; other sends encode; clients get identical text frames", async () => {
  const { wsUrl } = await startRuntime({ objects: { RELAY: Relay } });
  const a = await connect(`${wsUrl}/RELAY/r`);
  const b = await connect(`${wsUrl}/RELAY/r`);
  const kinds: boolean[] = [];
  for (const c of [a, b]) c.ws.on("message", (_data, isBinary) => kinds.push(isBinary));

  const text = "héllo wörld 🌍 \u0000 end";
  a.send(text);
  expect(await a.next()).toBe(text);
  expect(await b.next()).toBe(text);
  expect(serverSends).toEqual(["bytes", "bytes"]);

  serverSends = [];
  a.send(`copy ${text}`);
  expect(await a.next()).toBe(`copy ${text}`);
  expect(serverSends).toEqual(["bytes"]);

  serverSends = [];
  a.send(`other ${text}`);
  expect(await a.next()).toBe(`reply to ${text}`);
  expect(serverSends).toEqual(["string"]);

  serverSends = [];
  a.send(`held ${text}`);
  expect(await a.next()).toBe(`held ${text}`);
  expect(serverSends).toEqual(["string"]);

  // An empty message is text too.
  a.send("");
  expect(await a.next()).toBe("");
  expect(await b.next()).toBe("");
  expect(kinds.every((binary) => binary === false)).toBe(true);
});
