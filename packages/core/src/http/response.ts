import type { WebSocket } from "../websocket/web-socket.ts";
import { noteBodyInit, noteClone } from "./streamed-body.ts";

/** `ResponseInit` plus Cloudflare's `webSocket` for 101 responses. */
export interface TorporResponseInit extends ResponseInit {
  webSocket?: WebSocket | null;
}

/** The platform `Response` (undici's), captured before `installGlobals` replaces the global. */
export const NativeResponse = globalThis.Response;

/**
 * The Fetch API `Response`, extended as on Cloudflare: a `101` status with a
 * `webSocket` (the client end of a `WebSocketPair`) completes an upgrade.
 * Node's own `Response` rejects status 101, so the status is kept here.
 *
 * @example
 * return new Response(null, { status: 101, webSocket: client });
 */
export class Response extends NativeResponse {
  readonly #status: number | undefined;
  readonly #webSocket: WebSocket | null;

  constructor(body?: BodyInit | null, init?: TorporResponseInit) {
    if (init?.status === 101) {
      const { webSocket: _ws, ...rest } = init;
      super(body, { ...rest, status: 200 });
      this.#status = 101;
    } else if (init !== undefined && "webSocket" in init) {
      const { webSocket: _ws, ...rest } = init;
      super(body, rest);
    } else {
      super(body, init);
    }
    this.#webSocket = init?.webSocket ?? null;
    noteBodyInit(this, body);
  }

  /** A copy whose body is a branch of this one's (still marked as streamed when this one is). */
  override clone(): globalThis.Response {
    const copy = super.clone();
    noteClone(this, copy);
    return copy;
  }

  // Undici's constructor reads `status` before our fields exist, hence the `in` checks.
  override get status(): number {
    return #status in this && this.#status !== undefined ? this.#status : super.status;
  }

  override get ok(): boolean {
    return !(#status in this && this.#status !== undefined) && super.ok;
  }

  /** The client end of the WebSocket this response upgrades to (101 only), else null. */
  get webSocket(): WebSocket | null {
    return #webSocket in this ? this.#webSocket : null;
  }
}

/** The WebSocket carried by any response: ours, or one made by a Response subclass elsewhere. */
export function webSocketOf(response: globalThis.Response): WebSocket | null {
  return (response as { webSocket?: WebSocket | null }).webSocket ?? null;
}

/** A JSON error response with a stable code: `{ "error": { "code", "message" } }`. */
export function jsonError(status: number, code: string, message: string, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { "content-type": "application/json", ...headers } });
}
