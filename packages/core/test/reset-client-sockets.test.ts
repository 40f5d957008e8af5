import type { AddressInfo } from "node:net";
import { afterEach, expect, onTestFinished, test } from "vitest";
import { WebSocketServer } from "ws";
import { DurableObject, memoryStorage, Response, Runtime, silentLogger, WebSocket, WebSocketPair, type DurableObjectNamespace } from "../src/index.ts";

/**
 * When an object instance is reset (here: its commit fails), the sockets its
 * code accepted or opened that no object owns (the client end of a WebSocket
 * another object returned, an outgoing `new WebSocket(url)`) are dropped, as
 * workerd destroys every I/O object of a broken actor: the peer sees the
 * connection end without a Close frame (1006 "WebSocket disconnected without
 * sending Close frame.", wasClean false). Before, they stayed open for good,
 * their listeners being dead code.
 */

const seenByB: string[] = [];
let atCommit: () => void = () => {};
afterEach(() => {
  seenByB.length = 0;
  atCommit = () => {};
});

type Env = { A: DurableObjectNamespace<A>; B: DurableObjectNamespace<B> };

class A extends DurableObject<Env> {
  sockets: WebSocket[] = [];
  async openToB(): Promise<string> {
    const response = await this.env.B.getByName("b").fetch("http://b/", { headers: { Upgrade: "websocket" } });
    const ws = (response as Response).webSocket!;
    ws.accept();
    ws.send("hello");
    this.sockets.push(ws);
    return "open";
  }
  async openOutbound(url: string): Promise<string> {
    const ws = new WebSocket(url);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    this.sockets.push(ws);
    return "open";
  }
  async write(): Promise<string> {
    await this.ctx.storage.put("x", 1);
    return "written";
  }
}

class B extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): void {
    seenByB.push(String(message));
  }
  override webSocketClose(_ws: WebSocket, code: number, reason: string, wasClean: boolean): void {
    seenByB.push(`close ${code} ${reason} ${wasClean}`);
  }
}

function start() {
  const runtime = new Runtime({ objects: { A, B }, storage: memoryStorage({ beforeCommit: () => atCommit() }), logger: silentLogger });
  onTestFinished(() => runtime.close());
  return runtime.namespace<A>("A").getByName("a");
}

function failCommits(): void {
  atCommit = () => {
    throw new Error("injected commit failure");
  };
}

/** Polls until `check` holds (deadline 10 s: these are in-process events). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met within 10 s");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test("a reset drops the client ends its instance accepted: the other object sees 1006 without a Close frame", async () => {
  const a = start();
  expect(await a.openToB()).toBe("open");
  await until(() => seenByB.length === 1);
  failCommits();
  await expect(a.write()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  await until(() => seenByB.length === 2);
  expect(seenByB).toEqual(["hello", "close 1006 WebSocket disconnected without sending Close frame. false"]);
});

test("a reset drops the outgoing WebSockets its instance opened: the server sees the connection end without a Close frame", async () => {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise((resolve) => server.once("listening", resolve));
  const closes: number[] = [];
  server.on("connection", (ws) => ws.on("close", (code) => closes.push(code)));
  const a = start();
  expect(await a.openOutbound(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`)).toBe("open");
  failCommits();
  await expect(a.write()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  await until(() => closes.length === 1);
  expect(closes).toEqual([1006]);
});
