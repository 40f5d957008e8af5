import { WebSocketRequestResponsePair } from "../websocket/auto-response.ts";
import { outboundFetch } from "./outbound-fetch.ts";
import { Response } from "./response.ts";
import { WebSocket, WebSocketPair } from "../websocket/web-socket.ts";

/**
 * Installs the globals Workers code expects (`WebSocket`, `WebSocketPair`,
 * `WebSocketRequestResponsePair`, a `Response` that accepts status 101), so
 * Durable Object code written for Cloudflare runs unchanged. Idempotent.
 *
 * `WebSocket` replaces Node 22's own global client: Workers code reads
 * `WebSocket.READY_STATE_OPEN` and calls `WebSocket.prototype.serializeAttachment`
 * on sockets from `WebSocketPair`, which must be instances of the global class
 * (partyserver does both). Torpor's class is also a client (`new WebSocket(url)`).
 * `fetch` drops connection headers a proxied request carries (outbound-fetch.ts).
 */
export function installGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g.WebSocket = WebSocket;
  g.WebSocketPair = WebSocketPair;
  g.WebSocketRequestResponsePair = WebSocketRequestResponsePair;
  g.Response = Response;
  g.fetch = outboundFetch(globalThis.fetch);
}
