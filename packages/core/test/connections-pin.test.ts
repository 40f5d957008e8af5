import { once } from "node:events";
import { createServer, type AddressInfo, type Socket as NetSocket } from "node:net";
import { expect, onTestFinished, test, vi } from "vitest";
import { WebSocketServer, type WebSocket as WsSocket } from "ws";
import { connect, type Socket } from "../src/cloudflare/sockets.ts";
import { DurableObject, Response, VirtualClock, WebSocket, WebSocketPair, type DurableObjectNamespace } from "../src/index.ts";
import { startRuntime } from "./helpers.ts";

/**
 * Connections an object's code opened or accepted that no object owns (the
 * client end of a WebSocket another object returned, an outgoing
 * `new WebSocket(url)`, a `connect()` socket) keep it in memory while open,
 * as open I/O keeps an object from eviction on Cloudflare: a hibernated
 * instance could not serve them (their events would reach dead code). The
 * blocker is named in `inspect()`; once they close the object hibernates by
 * itself. When the instance goes anyway (the runtime shuts down), they are
 * dropped with it. Before, such an object hibernated after hibernateAfterMs
 * with its connections left open and their listeners dead.
 */

type Env = { A: DurableObjectNamespace<A>; B: DurableObjectNamespace<B> };

class A extends DurableObject<Env> {
  ws: WebSocket | null = null;
  tcp: Socket | null = null;
  async openToB(): Promise<string> {
    const response = await this.env.B.getByName("b").fetch("http://b/", { headers: { Upgrade: "websocket" } });
    this.ws = (response as Response).webSocket!;
    this.ws.accept();
    return "open";
  }
  async openOutbound(url: string): Promise<string> {
    const ws = new WebSocket(url);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    this.ws = ws;
    return "open";
  }
  async openTcp(port: number): Promise<string> {
    this.tcp = connect(`127.0.0.1:${port}`);
    await this.tcp.opened;
    return "open";
  }
  closeWs(): void {
    this.ws!.close(1000, "done");
  }
}

class B extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
}

const PIN = "1 connection(s) its code opened or accepted still open";

async function start() {
  const clock = new VirtualClock();
  const { runtime } = await startRuntime({ objects: { A, B }, clock, hibernateAfterMs: 1_000 });
  return { runtime, clock, a: runtime.namespace<A>("A").getByName("a") };
}

async function wsServer(): Promise<{ url: string; sockets: WsSocket[]; closes: number[] }> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await once(server, "listening");
  const sockets: WsSocket[] = [];
  const closes: number[] = [];
  server.on("connection", (ws) => {
    sockets.push(ws);
    ws.on("close", (code) => closes.push(code));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, sockets, closes };
}

test("the client end of another object's WebSocket, accepted by A, keeps A live until A closes it", async () => {
  const { runtime, clock, a } = await start();
  expect(await a.openToB()).toBe("open");
  await clock.advance(5_000);
  expect(runtime.inspect(a).state).toBe("live");
  expect(runtime.inspect(a).blockers).toEqual([expect.stringContaining(PIN)]);
  await expect(runtime.hibernate(a)).rejects.toMatchObject({ code: "ERR_NOT_HIBERNATABLE", message: expect.stringContaining(PIN) });
  await a.closeWs();
  await vi.waitFor(() => expect(runtime.inspect(a).blockers).toEqual([]), { timeout: 10_000, interval: 5 });
  // Closed: nothing pins it; the idle timer, which kept looking, lets it go.
  await clock.advance(2_000);
  expect(runtime.inspect(a).state).toBe("hibernated");
});

test("an outgoing WebSocket keeps its object live until the server closes it", async () => {
  const server = await wsServer();
  const { runtime, clock, a } = await start();
  expect(await a.openOutbound(server.url)).toBe("open");
  await clock.advance(5_000);
  expect(runtime.inspect(a).state).toBe("live");
  expect(runtime.inspect(a).blockers).toEqual([expect.stringContaining(PIN)]);
  server.sockets[0]!.close(1000, "bye");
  await vi.waitFor(() => expect(runtime.inspect(a).blockers).toEqual([]), { timeout: 10_000, interval: 5 });
  await clock.advance(2_000);
  expect(runtime.inspect(a).state).toBe("hibernated");
});

test("a connect() socket keeps its object live until the peer ends it", async () => {
  const peers: NetSocket[] = [];
  const server = createServer((socket) => peers.push(socket)).listen(0, "127.0.0.1");
  await once(server, "listening");
  onTestFinished(() => {
    for (const socket of peers) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { runtime, clock, a } = await start();
  expect(await a.openTcp((server.address() as AddressInfo).port)).toBe("open");
  await clock.advance(5_000);
  expect(runtime.inspect(a).state).toBe("live");
  expect(runtime.inspect(a).blockers).toEqual([expect.stringContaining(PIN)]);
  await vi.waitFor(() => expect(peers.length).toBe(1), { timeout: 10_000, interval: 5 });
  peers[0]!.destroy();
  await vi.waitFor(() => expect(runtime.inspect(a).blockers).toEqual([]), { timeout: 10_000, interval: 5 });
  await clock.advance(2_000);
  expect(runtime.inspect(a).state).toBe("hibernated");
});

test("when the instance goes anyway (the runtime shuts down), its outgoing WebSocket is dropped with it", async () => {
  const server = await wsServer();
  const { runtime, a } = await start();
  expect(await a.openOutbound(server.url)).toBe("open");
  await runtime.close();
  await vi.waitFor(() => expect(server.closes).toEqual([1006]), { timeout: 10_000, interval: 5 });
});
