/**
 * One chat room: a Durable Object per room name, every socket hibernatable.
 *
 * Hibernation rule followed throughout: the instance may be dropped between
 * any two events and constructed again, so nothing about connections lives in
 * instance fields. Who is connected comes from `ctx.getWebSockets()`, who a
 * socket belongs to (and its rate-limit window) from its attachment, and the
 * history from SQLite.
 */
import { DurableObject, Response, WebSocketPair, WebSocketRequestResponsePair } from "@torpor/core";
import type { DurableObjectNamespace, DurableObjectState, WebSocket } from "@torpor/core";
import {
  ERROR_CODES,
  HEARTBEAT,
  LIMITS,
  displayNameSchema,
  parseClientFrame,
  roomNameSchema,
  userIdSchema,
  type ChatMessage,
  type ErrorCode,
  type Member,
  type ServerFrame,
} from "./protocol.ts";

/** Bindings the chat Worker and room expect. */
export interface Env {
  CHAT_ROOM: DurableObjectNamespace;
}

/** What each socket carries across hibernation (well under the 2,048-byte limit). */
export interface Attachment {
  id: string;
  name: string;
  joinedAt: number;
  /** Times (ms) of the frames accepted in the current rate window, oldest first; at most `LIMITS.rateCount`. */
  recent: number[];
  /** When this socket's last typing indicator was relayed. */
  typingAt?: number;
}

interface MessageRow extends Record<string, string | number | null> {
  id: number;
  author_id: string;
  author_name: string;
  text: string;
  ts: number;
}

const OPEN = 1;

/** The chat room Durable Object. Reached at `/r/<room>/ws?name=<display name>[&uid=<id>]`. */
export class ChatRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Runs again on every wake; both calls are idempotent and cheap.
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      author_id TEXT NOT NULL,
      author_name TEXT NOT NULL,
      text TEXT NOT NULL,
      ts INTEGER NOT NULL
    )`);
    // Answered by the runtime without constructing the room, so idle clients
    // that only heartbeat never wake it.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT.request, HEARTBEAT.response));
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(426, "upgrade_required", "This endpoint only accepts WebSocket upgrades.");
    }
    const url = new URL(request.url);
    const room = roomNameSchema.safeParse(url.pathname.split("/")[2]);
    if (!room.success) return jsonError(400, "invalid_room", "Room names are 1–64 characters of a-z, 0-9, '-' and '_'.");
    const name = displayNameSchema.safeParse(url.searchParams.get("name") ?? "");
    if (!name.success) {
      return jsonError(400, "invalid_name", `Display name rejected: ${name.error.issues[0]?.message ?? "invalid"}. Use 1–32 characters.`);
    }
    const uid = userIdSchema.safeParse(url.searchParams.get("uid") ?? "");
    const me: Member = { id: uid.success ? uid.data : crypto.randomUUID(), name: name.data };
    const before = this.members();
    const wasPresent = before.find((m) => m.id === me.id);

    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [`user:${me.id}`]);
    const attachment: Attachment = { ...me, joinedAt: Date.now(), recent: [] };
    server.serializeAttachment(attachment);

    const { messages, hasMore } = this.page(Number.MAX_SAFE_INTEGER, LIMITS.historyOnJoin);
    const members = this.members();
    send(server, {
      type: "welcome",
      room: room.data,
      you: me,
      members,
      history: messages,
      hasMore,
      limits: { maxTextLength: LIMITS.maxTextLength, rateCount: LIMITS.rateCount, rateWindowMs: LIMITS.rateWindowMs },
    });
    if (!wasPresent) this.broadcast({ type: "joined", member: me, members }, server);
    // A second tab (or the reconnect after a rename) of someone already here
    // is no arrival; a new name still has to reach the others' member lists,
    // since the old socket may still be open and nobody "left".
    else if (wasPresent.name !== me.name) this.broadcast({ type: "renamed", member: me, from: wasPresent.name, members }, server);

    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const me = readAttachment(ws);
    if (!me) return; // Not one of ours (cannot happen with this fetch); nothing to attribute it to.

    const now = Date.now();
    const parsed = parseClientFrame(raw);
    const author: Member = { id: me.id, name: me.name };

    // Typing indicators are not messages: they stay out of the rate window
    // (the page sends one as you start typing each message). Between two
    // messages, more than one per `typingIntervalMs` is dropped without a word.
    if (parsed.ok && parsed.frame.type === "typing") {
      if (me.typingAt !== undefined && now - me.typingAt < LIMITS.typingIntervalMs) return;
      ws.serializeAttachment({ ...me, typingAt: now } satisfies Attachment);
      this.broadcast({ type: "typing", member: author }, ws);
      return;
    }

    const recent = me.recent.filter((t) => now - t < LIMITS.rateWindowMs);
    if (recent.length >= LIMITS.rateCount) {
      const retryInMs = LIMITS.rateWindowMs - (now - recent[0]!);
      return sendError(
        ws,
        ERROR_CODES.RATE_LIMITED,
        `More than ${LIMITS.rateCount} messages in ${LIMITS.rateWindowMs / 1000} s; try again in ${Math.ceil(retryInMs / 1000)} s.`,
      );
    }
    recent.push(now);
    // A message ends the sender's typing: the next indicator is relayed at once.
    const { typingAt: _ended, ...rest } = me;
    ws.serializeAttachment({ ...rest, recent } satisfies Attachment);

    if (!parsed.ok) return sendError(ws, parsed.code, parsed.message);
    const frame = parsed.frame;

    switch (frame.type) {
      case "message": {
        const row = this.ctx.storage.sql
          .exec<{ id: number }>(
            "INSERT INTO messages (author_id, author_name, text, ts) VALUES (?, ?, ?, ?) RETURNING id",
            author.id,
            author.name,
            frame.text,
            now,
          )
          .one();
        this.broadcast({ type: "message", message: { id: row.id, text: frame.text, author, ts: now } });
        return;
      }
      case "typing":
        return; // Handled above, before the rate window.
      case "history": {
        const { messages, hasMore } = this.page(frame.before, frame.limit);
        send(ws, { type: "history", before: frame.before, messages, hasMore });
        return;
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, _reason: string, _wasClean: boolean): Promise<void> {
    // On Cloudflare without the auto-reply-to-close compatibility flag the
    // close handshake must be completed by hand; on Torpor (and with the flag)
    // the socket is already CLOSED and this is a no-op. 1005/1006 are
    // reserved and may not be sent, so answer those with a normal close.
    if (ws.readyState !== 3 /* CLOSED */) ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, "bye");
    this.leave(ws);
  }

  override async webSocketError(ws: WebSocket, _error: unknown): Promise<void> {
    // The connection is unusable; webSocketClose follows once it is gone
    // (Torpor reports a dropped connection as close code 1006).
    if (ws.readyState === OPEN) ws.close(1011, "socket error");
  }

  /**
   * Announces a departure unless the same user still has another socket
   * here; then, if that socket carries another name (a tab from before a
   * rename), the name it shows now.
   */
  private leave(ws: WebSocket): void {
    const me = readAttachment(ws);
    if (!me) return;
    const members = this.members(ws);
    let stays: Attachment | undefined;
    for (const s of this.openSockets(ws)) {
      const a = readAttachment(s);
      if (a?.id === me.id && (!stays || a.joinedAt >= stays.joinedAt)) stays = a;
    }
    if (!stays) {
      this.broadcast({ type: "left", member: { id: me.id, name: me.name }, members }, ws);
      return;
    }
    // The name shown so far was that of the user's newest socket (see members()), maybe this one.
    if (me.joinedAt >= stays.joinedAt && me.name !== stays.name) {
      this.broadcast({ type: "renamed", member: { id: me.id, name: stays.name }, from: me.name, members }, ws);
    }
  }

  /**
   * Open sockets of this room, minus `exclude`. Filtering by `readyState`
   * keeps this correct on runtimes that still list a closing socket inside
   * `webSocketClose` (both Torpor and workerd do, until the handler returns).
   */
  private openSockets(exclude?: WebSocket): WebSocket[] {
    return this.ctx.getWebSockets().filter((s) => s !== exclude && s.readyState === OPEN);
  }

  /** Everyone present, one entry per user id (latest name wins), sorted by name. */
  private members(exclude?: WebSocket): Member[] {
    const byId = new Map<string, Attachment>();
    for (const ws of this.openSockets(exclude)) {
      const a = readAttachment(ws);
      if (!a) continue;
      const seen = byId.get(a.id);
      if (!seen || seen.joinedAt <= a.joinedAt) byId.set(a.id, a);
    }
    return [...byId.values()].map((a) => ({ id: a.id, name: a.name })).sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id));
  }

  private broadcast(frame: ServerFrame, exclude?: WebSocket): void {
    const text = JSON.stringify(frame);
    for (const ws of this.openSockets(exclude)) {
      try {
        ws.send(text);
      } catch {
        // The peer went away between the readyState check and the send; its
        // webSocketClose will announce the departure.
      }
    }
  }

  /** Up to `limit` messages with id < `before`, oldest first, and whether older ones exist. */
  private page(before: number, limit: number): { messages: ChatMessage[]; hasMore: boolean } {
    const rows = this.ctx.storage.sql
      .exec<MessageRow>("SELECT id, author_id, author_name, text, ts FROM messages WHERE id < ? ORDER BY id DESC LIMIT ?", before, limit + 1)
      .toArray();
    const hasMore = rows.length > limit;
    const messages = rows
      .slice(0, limit)
      .reverse()
      .map((r) => ({ id: r.id, text: r.text, author: { id: r.author_id, name: r.author_name }, ts: r.ts }));
    return { messages, hasMore };
  }
}

function readAttachment(ws: WebSocket): Attachment | null {
  return (ws.deserializeAttachment() as Attachment | null) ?? null;
}

function send(ws: WebSocket, frame: ServerFrame): void {
  ws.send(JSON.stringify(frame));
}

function sendError(ws: WebSocket, code: ErrorCode, message: string): void {
  send(ws, { type: "error", code, message });
}

function jsonError(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ type: "error", code, message }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
