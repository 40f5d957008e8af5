import { WebSocketRequestResponsePair } from "./auto-response.ts";
import { Response } from "./response.ts";
import { WebSocketPair } from "./web-socket.ts";

/**
 * Installs the globals Workers code expects (`WebSocketPair`,
 * `WebSocketRequestResponsePair`, a `Response` that accepts status 101), so
 * Durable Object code written for Cloudflare runs unchanged. Idempotent.
 */
export function installGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g.WebSocketPair = WebSocketPair;
  g.WebSocketRequestResponsePair = WebSocketRequestResponsePair;
  g.Response = Response;
}
