/**
 * A Worker and a hibernating Durable Object written only against Cloudflare's
 * API (no Torpor import): `wrangler dev` and `torpor dev` run it unchanged.
 *
 * Each room is one `Room` object. Clients connect over a WebSocket at
 * /rooms/<name>/ws?user=<user> and send JSON:
 * - {"type":"write","id","body"}: stored in SQL, then acknowledged with {"type":"ack","id"}
 * - {"type":"who"}: the users connected (from socket attachments)
 * - {"type":"broadcast","body"}: sent to every socket of the room
 * - {"type":"alarm","inMs"}: schedules an alarm that broadcasts {"type":"alarm"}
 * The text "ping" is answered "pong" by the runtime without waking the object.
 */
import { DurableObject, env as globalEnv } from "cloudflare:workers";

interface Env {
  GREETING: string;
  ROOMS: DurableObjectNamespace<Room>;
}

/** What each socket carries across hibernation. */
interface Attachment {
  user: string;
  joinedAt: number;
}

type ClientMessage = { type: "write"; id: string; body: string } | { type: "who" } | { type: "broadcast"; body: string } | { type: "alarm"; inMs: number };

export class Room extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Runs again on every wake: both calls are idempotent.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, author TEXT NOT NULL, body TEXT NOT NULL)");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/history")) {
      return Response.json(this.ctx.storage.sql.exec("SELECT id, author, body FROM messages ORDER BY rowid").toArray());
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    if (url.pathname.endsWith("/standard-ws")) {
      // The non-hibernatable way: this socket keeps the object in memory.
      server.accept();
      server.addEventListener("message", (event) => server.send(`echo: ${String(event.data)}`));
      return new Response(null, { status: 101, webSocket: client });
    }
    const user = url.searchParams.get("user") ?? "anonymous";
    this.ctx.acceptWebSocket(server, [`user:${user}`]);
    server.serializeAttachment({ user, joinedAt: Date.now() } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return ws.close(1003, "Send JSON text");
    const msg = JSON.parse(message) as ClientMessage;
    const me = ws.deserializeAttachment() as Attachment;
    switch (msg.type) {
      case "write":
        this.ctx.storage.sql.exec("INSERT OR REPLACE INTO messages (id, author, body) VALUES (?, ?, ?)", msg.id, me.user, msg.body);
        // Sent only once the insert is durable (the output gate), so an ack means stored.
        ws.send(JSON.stringify({ type: "ack", id: msg.id }));
        return;
      case "who":
        ws.send(JSON.stringify({ type: "who", users: this.users(), tags: this.ctx.getTags(ws) }));
        return;
      case "broadcast":
        for (const peer of this.ctx.getWebSockets()) peer.send(JSON.stringify({ type: "message", from: me.user, body: msg.body }));
        return;
      case "alarm":
        await this.ctx.storage.setAlarm(Date.now() + msg.inMs);
        ws.send(JSON.stringify({ type: "alarm-set" }));
        return;
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    const me = ws.deserializeAttachment() as Attachment;
    // The closing socket is still among getWebSockets() while this runs (as on workerd): skip it.
    const remaining = this.users(ws);
    for (const peer of this.ctx.getWebSockets()) {
      if (peer !== ws) peer.send(JSON.stringify({ type: "left", user: me.user, code, wasClean, remaining }));
    }
  }

  override async alarm(): Promise<void> {
    const runs = ((await this.ctx.storage.get<number>("alarmRuns")) ?? 0) + 1;
    await this.ctx.storage.put("alarmRuns", runs);
    for (const ws of this.ctx.getWebSockets()) ws.send(JSON.stringify({ type: "alarm", runs }));
  }

  /** Called over RPC from the Worker: `await env.ROOMS.getByName(name).stats()`. */
  async stats(): Promise<{ messages: number; sockets: number; alarmRuns: number }> {
    const { n } = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages").one();
    return { messages: n, sockets: this.ctx.getWebSockets().length, alarmRuns: (await this.ctx.storage.get<number>("alarmRuns")) ?? 0 };
  }

  private users(except?: WebSocket): string[] {
    return this.ctx
      .getWebSockets()
      .filter((ws) => ws !== except)
      .map((ws) => (ws.deserializeAttachment() as Attachment).user);
  }
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/") {
      // The env imported from cloudflare:workers is the one the handler gets.
      const imported = (globalEnv as unknown as Partial<Env>).GREETING;
      return Response.json({ greeting: env.GREETING, importedEnvMatches: imported === env.GREETING });
    }
    const match = /^\/rooms\/([\w-]+)\/(ws|standard-ws|history|stats)$/.exec(url.pathname);
    if (match === null) return new Response("Not found", { status: 404 });
    const [, name, action] = match as unknown as [string, string, string];
    const room = env.ROOMS.getByName(name);
    if (action === "stats") return Response.json(await room.stats());
    return room.fetch(request);
  },
} satisfies ExportedHandler<Env>;
