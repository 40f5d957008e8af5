/**
 * A Worker with one hibernating Durable Object: every WebSocket message is
 * counted in the room's storage and echoed with the count.
 */
import { DurableObject, Response, WebSocketPair, type DurableObjectNamespace, type WebSocket } from "@torpor/core";

export interface Env {
  ROOM: DurableObjectNamespace<Room>;
}

export class Room extends DurableObject<Env> {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server); // hibernatable: the socket stays open while the object sleeps
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const count = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    await this.ctx.storage.put("count", count);
    ws.send(`${count}: ${String(message)}`);
  }
}

export default {
  fetch(request: Request, env: Env) {
    const room = new URL(request.url).pathname.slice(1) || "lobby";
    return env.ROOM.getByName(room).fetch(request);
  },
};
