import { sendBehindGate } from "./gated-request-body.ts";
import { outsideOwners } from "../owner-context.ts";
import { WebSocketRequestResponsePair } from "../websocket/auto-response.ts";
import { outboundFetch } from "./outbound-fetch.ts";
import { Response } from "./response.ts";
import { WebSocket, WebSocketPair } from "../websocket/web-socket.ts";

/** The `fetch` that was global when {@link installGlobals} wrapped it (the platform's, normally). */
let platformFetch: typeof fetch | undefined;

/**
 * The global `fetch` while Torpor's globals are installed: the platform's,
 * behind the output gate. Called from Durable Object code that made writes,
 * the request leaves once those writes are durable (as on Cloudflare, where
 * the output gate holds outgoing requests too); from an instance that was
 * reset, it never leaves and rejects with the reset's error. Elsewhere it is
 * the platform's fetch, unchanged.
 *
 * The platform's fetch runs outside the object's async context: undici's
 * timers (one process-wide timer it creates on first use, its pooled
 * sockets' keep-alive timers) serve every later caller, and counted as the
 * object's own timers (object/object-timers.ts) they would be cancelled when
 * it hibernates, leaving the process with no fetch timeouts. The caller's
 * `await` still resumes in its own context.
 */
function gatedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<globalThis.Response> {
  // A streamed body is gated chunk by chunk too (gated-request-body.ts).
  return sendBehindGate(input, init, (request, requestInit) => outsideOwners(() => platformFetch!(request, requestInit)));
}

/**
 * Installs the globals Workers code expects (`WebSocket`, `WebSocketPair`,
 * `WebSocketRequestResponsePair`, a `Response` that accepts status 101), so
 * Durable Object code written for Cloudflare runs unchanged, and puts the
 * global `fetch` behind the output gate of the object calling it. Idempotent.
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
  // The platform's fetch minus connection headers (outbound-fetch.ts), behind the output gate.
  if (typeof g.fetch === "function" && g.fetch !== gatedFetch) {
    platformFetch = outboundFetch(g.fetch as typeof fetch);
    g.fetch = gatedFetch;
  }
}
