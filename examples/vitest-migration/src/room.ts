import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.ts";

/** What each socket carries through hibernation. */
export interface Member {
  name: string;
  joined: number;
}

/**
 * A hibernating chat room. `GET /join?name=…` upgrades to a WebSocket
 * accepted with `ctx.acceptWebSocket` (tags: `user:<name>` and `chat`);
 * every text message is stored in SQL and sent to every member as
 * `<name>: <text>`. `/who` answers with the members (from attachments),
 * `/tags` with the sender's tags; "ping" is answered "pong" by the runtime
 * without waking the object.
 */
export class Room extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, author TEXT NOT NULL, body TEXT NOT NULL)");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade") !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
    const name = new URL(request.url).searchParams.get("name") ?? "anonymous";
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [`user:${name}`, "chat"]);
    server.serializeAttachment({ name, joined: this.ctx.getWebSockets().length } satisfies Member);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return ws.close(1003, "text only");
    const me = ws.deserializeAttachment() as Member;
    if (message === "/who") return ws.send(JSON.stringify(this.members()));
    if (message === "/tags") return ws.send(JSON.stringify(this.ctx.getTags(ws)));
    this.ctx.storage.sql.exec("INSERT INTO messages (author, body) VALUES (?, ?)", me.name, message);
    for (const peer of this.ctx.getWebSockets("chat")) peer.send(`${me.name}: ${message}`);
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    // A hibernatable socket is half-open here: send() still reaches the member,
    // and this close() is the reply to their Close frame.
    const me = ws.deserializeAttachment() as Member;
    ws.send(`goodbye ${me.name}`);
    ws.close(1000, `bye ${me.name}`);
  }

  /** The members, oldest first, as their attachments say. */
  members(): Member[] {
    return this.ctx
      .getWebSockets("chat")
      .map((ws) => ws.deserializeAttachment() as Member)
      .sort((a, b) => a.joined - b.joined);
  }

  /** Names of the members with `tag`. */
  tagged(tag: string): string[] {
    return this.ctx.getWebSockets(tag).map((ws) => (ws.deserializeAttachment() as Member).name);
  }

  /** Every message stored, in order. */
  history(): string[] {
    return this.ctx.storage.sql
      .exec<{ author: string; body: string }>("SELECT author, body FROM messages ORDER BY seq")
      .toArray()
      .map((row) => `${row.author}: ${row.body}`);
  }
}
