import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketPair, type WebSocket } from "../websocket/web-socket.ts";

/**
 * A WebSocket upgrade that an object in another process accepted: the
 * client's TCP socket goes to that process, which answers the handshake.
 */
export interface UpgradeHandoff {
  /** Sends the socket, the request head and the bytes read past it to the owner. */
  handOff(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The response never reached an upgrade (the Worker returned something else): the owner drops its end. */
  abandon(): void;
}

const handoffs = new WeakMap<WebSocket, UpgradeHandoff>();

/**
 * The `webSocket` of a 101 response that came from another process: a
 * stand-in client end the server recognizes, so Worker code that re-wraps
 * the response (`new Response(null, { status: 101, webSocket })`) still works.
 */
export function handoffWebSocket(handoff: UpgradeHandoff): WebSocket {
  const client = new WebSocketPair()[0];
  handoffs.set(client, handoff);
  return client;
}

/** The handoff behind a stand-in client end, if it is one. */
export function handoffOf(ws: WebSocket): UpgradeHandoff | undefined {
  return handoffs.get(ws);
}
