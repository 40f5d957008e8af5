import { once } from "node:events";
import { createServer } from "node:net";
import { describe, expect, onTestFinished, test } from "vitest";
import { WebSocketServer, type WebSocket as WsServerSocket } from "ws";
import { DurableObject, Response, WebSocket, WebSocketPair, installGlobals } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

/** A ws server on 127.0.0.1:0 that echoes, closes on "please-close", and records the close it saw. */
async function echoServer() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (p) => (p.has("chat") ? "chat" : false) });
  await once(wss, "listening");
  onTestFinished(() => {
    for (const socket of wss.clients) socket.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  const closes: Array<{ code: number; reason: string }> = [];
  let closeSeen: () => void = () => {};
  const closed = new Promise<void>((resolve) => (closeSeen = resolve));
  wss.on("connection", (socket: WsServerSocket) => {
    socket.on("message", (data, isBinary) => {
      if (String(data) === "please-close") socket.close(4001, "server says bye");
      else socket.send(data, { binary: isBinary });
    });
    socket.on("close", (code, reason) => {
      closes.push({ code, reason: reason.toString() });
      closeSeen();
    });
  });
  const { port } = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/path?q=1`, closes, closed };
}

/** Records every event of a client socket in order; `until(type)` resolves when one of that type arrived. */
function record(ws: WebSocket) {
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ type: string; resolve: () => void }> = [];
  const push = (entry: Record<string, unknown>) => {
    events.push(entry);
    for (const w of waiters.filter((w) => w.type === entry.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  ws.addEventListener("open", () => push({ type: "open", readyState: ws.readyState, protocol: ws.protocol }));
  ws.addEventListener("message", (e) => {
    const data = e.data;
    push({ type: "message", data: typeof data === "string" ? data : data instanceof Blob ? "Blob" : [...new Uint8Array(data)] });
  });
  ws.addEventListener("close", (e) => push({ type: "close", code: e.code, reason: e.reason, wasClean: e.wasClean, readyState: ws.readyState }));
  ws.addEventListener("error", (e) => push({ type: "error", message: e.message }));
  return {
    events,
    until: (type: string) => (events.some((e) => e.type === type) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ type, resolve }))),
  };
}

describe("the global WebSocket", () => {
  test("is Torpor's class, with Cloudflare's statics and prototype, and WebSocketPair sockets are instances", () => {
    installGlobals();
    expect(globalThis.WebSocket).toBe(WebSocket);
    const G = globalThis.WebSocket as unknown as typeof WebSocket;
    expect("OPEN" in G).toBe(true);
    expect([G.CONNECTING, G.OPEN, G.CLOSING, G.CLOSED]).toEqual([0, 1, 2, 3]);
    expect([G.READY_STATE_CONNECTING, G.READY_STATE_OPEN, G.READY_STATE_CLOSING, G.READY_STATE_CLOSED]).toEqual([0, 1, 2, 3]);
    for (const method of ["accept", "send", "close", "serializeAttachment", "deserializeAttachment", "addEventListener", "removeEventListener"]) {
      expect(typeof (G.prototype as unknown as Record<string, unknown>)[method]).toBe("function");
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    expect(client).toBeInstanceOf(G);
    expect(server).toBeInstanceOf(G);
    expect((server as unknown as { OPEN: number }).OPEN).toBe(1);
    expect((server as unknown as { READY_STATE_CLOSED: number }).READY_STATE_CLOSED).toBe(3);
    // partyserver's way of reaching the attachment.
    server.accept();
    G.prototype.serializeAttachment.call(server, { id: "a" });
    expect(G.prototype.deserializeAttachment.call(server)).toEqual({ id: "a" });
    expect(server.url).toBeNull();
    expect(server.binaryType).toBe("arraybuffer");
  });
});

describe("new WebSocket(url): an outbound client, as workerd's", () => {
  test("connects, agrees a subprotocol, exchanges text and binary, and closes cleanly", async () => {
    const server = await echoServer();
    const ws = new WebSocket(server.url, ["chat"]);
    const seen = record(ws);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.url).toBe(server.url);
    expect(ws.protocol).toBe("");
    expect(() => ws.accept()).toThrow(new TypeError("Websockets obtained from the 'new WebSocket()' constructor cannot call accept"));
    // workerd's error for a send before the handshake completed (checked against workerd 1.20260730).
    expect(() => ws.send("too early")).toThrow(
      new TypeError("You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages."),
    );
    await seen.until("open");
    expect(seen.events[0]).toEqual({ type: "open", readyState: WebSocket.OPEN, protocol: "chat" });
    ws.send("hello");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.serializeAttachment({ kept: true });
    expect(ws.deserializeAttachment()).toEqual({ kept: true });
    await until(() => seen.events.length >= 3);
    ws.close(4000, "bye");
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await seen.until("close");
    expect(seen.events.slice(1)).toEqual([
      { type: "message", data: "hello" },
      { type: "message", data: [1, 2, 3] },
      { type: "close", code: 4000, reason: "bye", wasClean: true, readyState: WebSocket.CLOSED },
    ]);
    await server.closed;
    expect(server.closes).toEqual([{ code: 4000, reason: "bye" }]);
  });

  test("no agreed subprotocol reads null once open; binaryType 'blob' delivers Blobs; invalid values are ignored", async () => {
    const server = await echoServer();
    const ws = new WebSocket(server.url);
    ws.binaryType = "blob";
    ws.binaryType = "nonsense";
    expect(ws.binaryType).toBe("blob");
    const seen = record(ws);
    await seen.until("open");
    expect(ws.protocol).toBeNull();
    ws.send(new Uint8Array([7]));
    await seen.until("message");
    expect(seen.events[1]).toEqual({ type: "message", data: "Blob" });
    ws.close();
    await seen.until("close");
  });

  test("a close from the server reaches the close listener, already CLOSED (the runtime replied)", async () => {
    const server = await echoServer();
    const ws = new WebSocket(server.url);
    const seen = record(ws);
    await seen.until("open");
    ws.send("please-close");
    await seen.until("close");
    expect(seen.events.at(-1)).toEqual({ type: "close", code: 4001, reason: "server says bye", wasClean: true, readyState: WebSocket.CLOSED });
    await server.closed;
    expect(server.closes).toEqual([{ code: 4001, reason: "server says bye" }]);
  });

  test("a refused connection gives error, then close 1006, with workerd's texts", async () => {
    // A port that was free a moment ago: nothing listens there now.
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const seen = record(ws);
    await seen.until("close");
    expect(seen.events).toEqual([
      { type: "error", message: "Network connection lost." },
      { type: "close", code: 1006, reason: "Failed to establish websocket connection", wasClean: false, readyState: WebSocket.CLOSED },
    ]);
  });

  test("close() during the handshake abandons it (error, then close 1006), as workerd does", async () => {
    const server = await echoServer();
    const ws = new WebSocket(server.url);
    const seen = record(ws);
    ws.close();
    await seen.until("close");
    expect(seen.events.map((e) => e.type)).toEqual(["error", "close"]);
    expect(seen.events[1]).toMatchObject({ code: 1006, wasClean: false });
  });

  test("a URL that is invalid or not ws:/wss: throws workerd's SyntaxError", () => {
    const error = (url: string) => {
      try {
        new WebSocket(url);
      } catch (e) {
        return { name: (e as DOMException).name, message: (e as DOMException).message, isDOMException: e instanceof DOMException };
      }
      return null;
    };
    expect(error("not a url")).toEqual({ name: "SyntaxError", message: "WebSocket Constructor: The url is invalid.", isDOMException: true });
    expect(error("http://127.0.0.1/")).toEqual({
      name: "SyntaxError",
      message: "WebSocket Constructor: The url scheme must be ws or wss.",
      isDOMException: true,
    });
  });

  test("a Durable Object opens one with the global WebSocket and relays what it receives", async () => {
    const upstream = await echoServer();
    class Relay extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        server.accept();
        const Global = globalThis.WebSocket as unknown as typeof WebSocket;
        const out = new Global(upstream.url);
        out.addEventListener("open", () => out.send("via upstream"));
        out.addEventListener("message", (event) => server.send(`relayed: ${String(event.data)}`));
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    const { wsUrl } = await startRuntime({ objects: { RELAY: Relay } });
    const client = await connect(`${wsUrl}/RELAY/one`);
    expect(await client.next()).toBe("relayed: via upstream");
  });
});

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}
