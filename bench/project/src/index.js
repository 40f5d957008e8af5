// The bench's Worker: what an app written for Cloudflare looks like. The Worker's fetch routes
// /ROOM/<name>?u=<user> to the object named <name> (one object per room, or per user), and the
// object accepts the WebSocket for hibernation with the user in its attachment.
// env.MODE picks what a message does:
//   echo       ws.send(message)
//   broadcast  send to every socket of the object (sender included)
//   exclude    send to every other socket, the sender recognized by each peer's attachment
//   sql        one INSERT per message (its own commit), then the reply
//   idle       nothing (memory figures)
// GET /visit/<name> runs the object's fetch without a socket (a read-only visit: one storage read);
// GET /stream/<name> the same, the body streamed by the object.
import { DurableObject } from "cloudflare:workers";

export class Room extends DurableObject {
  #mode;
  #tableReady = false;

  constructor(ctx, env) {
    super(ctx, env);
    this.#mode = env.MODE;
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade") !== "websocket") {
      // A visit that only reads: the object must not need a file for it.
      const seen = await this.ctx.storage.get("seen");
      const text = seen === undefined ? "new" : "known";
      if (!url.pathname.startsWith("/stream/")) return new Response(text);
      // The same answer as a body the object streams after returning (two chunks, fed on demand).
      const bytes = new TextEncoder().encode(text);
      let sent = 0;
      return new Response(new ReadableStream({ pull: (c) => (sent++ < 2 ? c.enqueue(bytes) : c.close()) }));
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ user: url.searchParams.get("u") ?? "u", joined: Date.now() });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  webSocketMessage(ws, message) {
    switch (this.#mode) {
      case "broadcast":
        for (const peer of this.ctx.getWebSockets()) peer.send(message);
        return;
      case "exclude": {
        const me = ws.deserializeAttachment().user;
        for (const peer of this.ctx.getWebSockets()) {
          if (peer.deserializeAttachment().user !== me) peer.send(message);
        }
        return;
      }
      case "sql": {
        const sql = this.ctx.storage.sql;
        if (!this.#tableReady) {
          sql.exec("CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
          this.#tableReady = true;
        }
        sql.exec("INSERT INTO log (body) VALUES (?)", typeof message === "string" ? message : "binary");
        // Held by the output gate until the INSERT is durable.
        ws.send(message);
        return;
      }
      case "idle":
        return;
      default:
        ws.send(message);
    }
  }

  webSocketClose(ws, code) {
    // Nothing to do: the runtime already answered the Close frame.
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, kind, name] = url.pathname.split("/");
    if (kind === "__bench" && name === "stats") return stats();
    if ((kind === "ROOM" || kind === "visit" || kind === "stream") && name) return env.ROOM.get(env.ROOM.idFromName(name)).fetch(request);
    return new Response("not found", { status: 404 });
  },
};

// Server figures for the bench driver (Node only: on workerd the driver reads /proc instead).
async function stats() {
  const gc = globalThis.gc;
  const proc = globalThis.process;
  if (typeof gc !== "function" || typeof proc?.memoryUsage !== "function") return new Response("no stats here", { status: 404 });
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 150));
  }
  const m = proc.memoryUsage();
  return Response.json({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external });
}
