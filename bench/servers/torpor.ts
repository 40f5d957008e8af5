// Torpor under test: one chat-style Durable Object class. BENCH_MODE: echo | broadcast | idle | durable.
import type { DurableObject as DO, WebSocket } from "@torpor/core";
import { loadCore, loadSqliteStorage } from "../lib/deps.ts";
import { cpuNow, serve, serverStats } from "../lib/proc.ts";

const mode = process.env.BENCH_MODE ?? "echo";
const puts = Number(process.env.BENCH_PUTS ?? 1);
const putStyle = process.env.BENCH_PUT_STYLE ?? "await";
const { Runtime, DurableObject, Response, WebSocketPair, silentLogger } = await loadCore();

class Room extends (DurableObject as typeof DO) {
  override fetch(req: Request) {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ name: new URL(req.url).searchParams.get("u") ?? "u", joined: Date.now() });
    return new Response(null, { status: 101, webSocket: client });
  }
  // Each mode's handler is what a user would write: synchronous unless it awaits storage.
  override webSocketMessage(ws: WebSocket, msg: string | ArrayBuffer): void | Promise<void> {
    if (mode === "broadcast") {
      for (const peer of this.ctx.getWebSockets()) peer.send(msg);
    } else if (mode === "durable") {
      return this.durable(ws, msg);
    } else {
      ws.send(msg);
    }
  }
  async durable(ws: WebSocket, msg: string | ArrayBuffer) {
    // One event = `puts` writes; the send waits for their commit (output gate).
    // BENCH_PUT_STYLE (profiling experiments): await each put (default, what users write), or fire them all.
    if (putStyle === "noawait") for (let i = 0; i < puts; i++) void this.ctx.storage.put(`k${i}`, msg);
    else for (let i = 0; i < puts; i++) await this.ctx.storage.put(`k${i}`, msg);
    ws.send(msg);
  }
}

const storage =
  mode === "durable" || process.env.BENCH_STORAGE === "sqlite"
    ? (await loadSqliteStorage()).sqliteStorage({
        dir: `${process.env.BENCH_DIR}/torpor`,
        synchronous: (process.env.BENCH_SYNC ?? "FULL") as "FULL" | "NORMAL",
      })
    : undefined;
const rt = new Runtime({
  objects: { ROOM: Room },
  logger: silentLogger,
  hibernateAfterMs: Number(process.env.BENCH_HIBERNATE_MS ?? 600_000),
  ...(storage ? { storage } : {}),
});
const { port } = await rt.listen({ port: 0 });
const ns = rt.namespace("ROOM");

serve(
  {
    stats: () => serverStats(),
    cpu: () => cpuNow(),
    hibernateAll: () => rt.hibernateAll(),
    hibernate: async ({ name }: { name: string }) => {
      await rt.hibernate(ns.getByName(name));
      return rt.inspect(ns.getByName(name)).state;
    },
    state: ({ name }: { name: string }) => rt.inspect(ns.getByName(name)).state,
    summary: () => {
      const all = rt.objects();
      return { objects: all.length, live: all.filter((o) => o.state === "live").length, sockets: all.reduce((n, o) => n + o.sockets, 0) };
    },
  },
  { port },
);
