import { checkAutoResponse, type WebSocketRequestResponsePair } from "./auto-response.ts";
import { TorporError, formatCount } from "./errors.ts";
import type { DurableObjectId } from "./id.ts";
import type { ObjectHost } from "./object-host.ts";
import type { DurableObjectStorage } from "./storage.ts";
import { endOf, facadeOf, type WebSocket } from "./web-socket.ts";

/**
 * `ctx` in a Durable Object (Cloudflare's `DurableObjectState`). A fresh one
 * is made each time the object is constructed; what must survive
 * hibernation (sockets, tags, attachments, auto-response) lives in the host.
 */
export class DurableObjectState {
  readonly #host: ObjectHost;
  /** This object's id. */
  readonly id: DurableObjectId;
  /** This object's transactional storage. */
  readonly storage: DurableObjectStorage;

  /** @internal created by the runtime. */
  constructor(host: ObjectHost, storage: DurableObjectStorage) {
    this.#host = host;
    this.id = host.id;
    this.storage = storage;
  }

  /** Keeps the object from hibernating until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void {
    this.#host.waitUntil(promise);
  }

  /** Runs `fn` with no other event delivered until it settles (e.g. loading state in the constructor). */
  blockConcurrencyWhile<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.#host.blockConcurrencyWhile(fn);
  }

  /**
   * Accepts a WebSocket so the object can hibernate while it stays
   * connected. Its events arrive at `webSocketMessage`, `webSocketClose` and
   * `webSocketError`. At most 10 tags of 256 characters (by default).
   *
   * @example
   * const [client, server] = Object.values(new WebSocketPair());
   * this.ctx.acceptWebSocket(server, ["room:lobby"]);
   * return new Response(null, { status: 101, webSocket: client });
   */
  acceptWebSocket(ws: WebSocket, tags?: string[]): void {
    const host = this.#host;
    const limits = host.runtime.options.limits;
    const end = endOf(ws);
    if (end.mode !== 0) {
      throw new TorporError(
        "ERR_WEBSOCKET_ALREADY_ACCEPTED",
        "This WebSocket was already accepted. Call either ws.accept() or ctx.acceptWebSocket(ws), once.",
      );
    }
    let checked: string[] | null = null;
    if (tags !== undefined) {
      if (!Array.isArray(tags)) throw new TorporError("ERR_INVALID_TAG", `acceptWebSocket() tags must be an array of strings; got ${typeof tags}.`);
      if (tags.length > limits.maxTags) {
        throw new TorporError(
          "ERR_TOO_MANY_TAGS",
          `A WebSocket can have at most ${limits.maxTags} tags; got ${tags.length}. Combine tags or keep the extra data in the attachment.`,
        );
      }
      // Like workerd: non-strings are converted, and length is measured in UTF-8 bytes.
      const strings = tags.map(String);
      for (const tag of strings) {
        const bytes = Buffer.byteLength(tag);
        if (bytes > limits.maxTagLength) {
          throw new TorporError(
            "ERR_TAG_TOO_LONG",
            `A WebSocket tag is ${formatCount(bytes)} bytes (UTF-8); the limit is ${formatCount(limits.maxTagLength)}. Use a shorter tag, such as an id instead of a name.`,
          );
        }
      }
      if (strings.length > 0) checked = [...new Set(strings)];
    }
    if (host.sockets.size >= limits.maxWebSocketsPerObject) {
      throw new TorporError(
        "ERR_TOO_MANY_WEBSOCKETS",
        `This object already has ${formatCount(host.sockets.size)} hibernatable WebSockets, the limit per object. Spread connections over more objects.`,
      );
    }
    host.acceptHibernatable(end, checked);
  }

  /** The open hibernatable WebSockets of this object, all or those tagged `tag`. */
  getWebSockets(tag?: string): WebSocket[] {
    return this.#host.sockets.list(tag).map(facadeOf);
  }

  /** The tags `ws` was accepted with. */
  getTags(ws: WebSocket): string[] {
    const end = endOf(ws);
    if (end.owner !== this.#host || end.mode !== 2) {
      throw new TorporError("ERR_WEBSOCKET_NOT_HIBERNATABLE", "getTags() takes a WebSocket accepted with this object's ctx.acceptWebSocket().");
    }
    return end.tags === null ? [] : [...end.tags];
  }

  /** Sets (or, with no argument, removes) the request/response pair answered without waking the object. */
  setWebSocketAutoResponse(pair?: WebSocketRequestResponsePair): void {
    this.#host.autoResponse = pair === undefined ? null : checkAutoResponse(pair, this.#host.runtime.options.limits.maxAutoResponseLength);
  }

  getWebSocketAutoResponse(): WebSocketRequestResponsePair | null {
    return this.#host.autoResponse;
  }

  /** When the auto-response last answered on `ws`, or null if never. */
  getWebSocketAutoResponseTimestamp(ws: WebSocket): Date | null {
    const at = endOf(ws).autoResponseAt;
    return at === 0 ? null : new Date(at);
  }

  /** Limits how long a hibernatable WebSocket handler may run before it is abandoned. */
  setHibernatableWebSocketEventTimeout(timeoutMs?: number): void {
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs <= 0)) {
      throw new TorporError("ERR_INVALID_OPTIONS", `The event timeout must be a positive whole number of milliseconds; got ${String(timeoutMs)}.`);
    }
    this.#host.eventTimeoutMs = timeoutMs ?? null;
  }

  getHibernatableWebSocketEventTimeout(): number | null {
    return this.#host.eventTimeoutMs;
  }

  /** Resets the object: the instance and uncommitted writes are discarded and its sockets closed. */
  abort(reason?: string): void {
    this.#host.reset(1011, reason ?? "Durable Object aborted");
  }
}
