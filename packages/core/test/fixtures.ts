import { DurableObject, Response, WebSocketPair, WebSocketRequestResponsePair, type DurableObjectState, type WebSocket } from "../src/index.ts";

/** Counts constructions per name across instances (module state: survives hibernation, unlike the instance). */
export const constructed = new Map<string, number>();

/**
 * A room used across the core tests: accepts hibernatable sockets with tags
 * from the query string, and answers text commands so tests can drive every
 * ctx/WebSocket API over a real socket.
 */
export class Room extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const name = ctx.id.name ?? ctx.id.toString();
    constructed.set(name, (constructed.get(name) ?? 0) + 1);
  }

  override async fetch(request: Request) {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") !== "websocket" && url.searchParams.get("force") === null) {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const tags = url.searchParams.getAll("tag");
    if (url.searchParams.get("standard") !== null) {
      server.accept();
      server.addEventListener("message", (event) => server.send(`std:${String(event.data)}`));
    } else {
      this.ctx.acceptWebSocket(server, tags);
      server.serializeAttachment({ user: url.searchParams.get("user") ?? "anon", joined: 1 });
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    if (typeof message !== "string") {
      ws.send(message);
      return;
    }
    const [command, ...rest] = message.split(" ");
    const arg = rest.join(" ");
    switch (command) {
      case "whoami":
        ws.send(JSON.stringify(ws.deserializeAttachment()));
        break;
      case "tags":
        ws.send(JSON.stringify(this.ctx.getTags(ws)));
        break;
      case "count":
        ws.send(String(this.ctx.getWebSockets(arg || undefined).length));
        break;
      case "broadcast":
        for (const peer of this.ctx.getWebSockets()) peer.send(`from ${(ws.deserializeAttachment() as { user: string }).user}: ${arg}`);
        break;
      case "attach":
        ws.serializeAttachment(JSON.parse(arg));
        ws.send("ok");
        break;
      case "auto":
        this.ctx.setWebSocketAutoResponse(arg === "" ? undefined : new WebSocketRequestResponsePair(arg.split("=")[0]!, arg.split("=")[1]!));
        ws.send("ok");
        break;
      case "autots": {
        const ts = this.ctx.getWebSocketAutoResponseTimestamp(ws);
        ws.send(ts === null ? "null" : String(ts.getTime()));
        break;
      }
      case "throw":
        throw new Error(`boom: ${arg}`);
      case "close":
        ws.close(4000, "bye");
        break;
      case "sleep": {
        const ms = Number(arg);
        await new Promise((r) => setTimeout(r, ms));
        ws.send(`slept ${ms}`);
        break;
      }
      case "put":
        await this.ctx.storage.put("v", arg);
        ws.send("stored");
        break;
      case "get":
        ws.send(String(await this.ctx.storage.get("v")));
        break;
      default:
        ws.send(`echo:${message}`);
    }
  }

  closes: unknown[] = [];
  override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean) {
    const record = { code, reason, wasClean, readyState: ws.readyState, remaining: this.ctx.getWebSockets().length };
    closeLog.push(record);
    // As on workerd, a hibernatable socket is half-open here: this close() is the reply the peer gets
    // (a handler that does not close is answered by the runtime with the peer's code once it returns).
    if (reason !== "no-reply") ws.close(1000, "late");
  }

  override async webSocketError(_ws: WebSocket, error: unknown) {
    errorLog.push(error);
  }
}

export const closeLog: Array<{ code: number; reason: string; wasClean: boolean; readyState: number; remaining: number }> = [];
export const errorLog: unknown[] = [];
