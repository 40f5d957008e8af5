import { checkAutoResponse, WebSocketRequestResponsePair } from "../websocket/auto-response.ts";
import { argumentTypeError, formatCount, toUint32, workerdError } from "../errors.ts";
import type { DurableObjectId } from "../ids/id.ts";
import type { Limits } from "../options.ts";
import type { DurableObjectStorage } from "../storage/storage.ts";
import type { SocketEnd } from "../websocket/socket-end.ts";
import type { HostSockets } from "./host-sockets.ts";
import { facadeOf, socketEndOf, type WebSocket } from "../websocket/web-socket.ts";

/** workerd's limit on setHibernatableWebSocketEventTimeout(): 7 days. */
const MAX_EVENT_TIMEOUT_MS = 604_800_000;

/** The record behind a WebSocket argument of `method`, or workerd's TypeError for anything else. */
function socketArgument(ws: unknown, method: string): SocketEnd {
  const end = socketEndOf(ws);
  if (end === undefined) throw argumentTypeError(method, "DurableObjectState", 1, "WebSocket");
  return end;
}

/**
 * What `ctx` needs from its object's host (the object host implements it):
 * kept narrow so the state depends on the host's surface, not its class.
 */
export interface StateHost {
  readonly id: DurableObjectId;
  readonly runtime: { readonly exports: Record<string, unknown>; readonly options: { readonly limits: Limits } };
  /** The object's sockets (hibernatable ones in its registry). */
  readonly sockets: HostSockets;
  autoResponse: WebSocketRequestResponsePair | null;
  eventTimeoutMs: number | null;
  waitUntil(promise: Promise<unknown>): void;
  blockConcurrencyWhile<T>(fn: () => T | Promise<T>): Promise<T>;
  /** Drops the instance and uncommitted writes, closing the sockets with `code`; `cause` is what pending callers are failed with. */
  reset(code: number, reason: string, cause?: unknown): void;
}

/**
 * `ctx` in a Durable Object (Cloudflare's `DurableObjectState`). A fresh one
 * is made each time the object is constructed; what must survive
 * hibernation (sockets, tags, attachments, auto-response) lives in the host.
 */
export class DurableObjectState {
  readonly #host: StateHost;
  /** This object's id. */
  readonly id: DurableObjectId;
  /** The provider's storage of this instance; its user-facing API is asked for on the first `storage` read. */
  readonly #storage: { readonly api: DurableObjectStorage };

  /** @internal created by the runtime. */
  constructor(host: StateHost, storage: { readonly api: DurableObjectStorage }) {
    this.#host = host;
    this.id = host.id;
    this.#storage = storage;
  }

  /**
   * This object's transactional storage. Read through, not copied at construction: a provider may build its API
   * on first use (sqliteStorage does), so an object that never touches storage (one that only holds WebSockets)
   * allocates none of it.
   */
  get storage(): DurableObjectStorage {
    return this.#storage.api;
  }

  /** Loopback bindings of the Worker's own exports (namespaces by class name, entrypoints), as on Cloudflare. */
  get exports(): Record<string, unknown> {
    return this.#host.runtime.exports;
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
    const end = socketArgument(ws, "acceptWebSocket");
    if (end.mode !== 0) {
      throw workerdError(Error, "ERR_WEBSOCKET_ALREADY_ACCEPTED", "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`");
    }
    if (end.peer !== null && end.peer.mode !== 0) {
      throw workerdError(
        Error,
        "ERR_WEBSOCKET_PAIR_IN_USE",
        "Cannot call `acceptWebSocket()` on this WebSocket because its pair has already been accepted or used in a Response.",
      );
    }
    let checked: string[] | null = null;
    if (tags !== undefined) {
      if (!Array.isArray(tags)) throw argumentTypeError("acceptWebSocket", "DurableObjectState", 2, "Array");
      // workerd's loop: each tag is converted to a string, the count of
      // distinct tags so far is checked before each tag (so a duplicate after
      // the 10th distinct one fails too), and the length is in UTF-8 bytes.
      const seen = new Set<string>();
      for (const raw of tags as unknown[]) {
        const tag = String(raw);
        if (seen.size >= limits.maxTags) {
          throw workerdError(Error, "ERR_TOO_MANY_TAGS", `a Hibernatable WebSocket cannot have more than ${limits.maxTags} tags`);
        }
        if (Buffer.byteLength(tag) > limits.maxTagLength) {
          throw workerdError(Error, "ERR_TAG_TOO_LONG", `"${tag}" is longer than the max tag length (${limits.maxTagLength} characters).`);
        }
        seen.add(tag);
      }
      if (seen.size > 0) checked = [...seen];
    }
    if (host.sockets.size >= limits.maxWebSocketsPerObject) {
      throw workerdError(
        Error,
        "ERR_TOO_MANY_WEBSOCKETS",
        `This object already has ${formatCount(host.sockets.size)} hibernatable WebSockets, the limit per object. Spread connections over more objects.`,
      );
    }
    host.sockets.acceptHibernatable(end, checked);
  }

  /** The open hibernatable WebSockets of this object: all (newest first) or those tagged `tag` (in accept order). */
  getWebSockets(tag?: string): WebSocket[] {
    const ends = this.#host.sockets.list(tag === undefined ? undefined : String(tag));
    // workerd lists all sockets newest first, but a tag's sockets in accept order.
    if (tag === undefined) ends.reverse();
    return ends.map(facadeOf);
  }

  /** The tags `ws` was accepted with. */
  getTags(ws: WebSocket): string[] {
    const end = socketArgument(ws, "getTags");
    if (end.mode === 0) {
      throw workerdError(Error, "ERR_WEBSOCKET_NOT_HIBERNATABLE", "you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket.");
    }
    if (end.mode !== 2) throw workerdError(Error, "ERR_WEBSOCKET_NOT_HIBERNATABLE", "only hibernatable websockets can have tags.");
    return end.tags === null ? [] : [...end.tags];
  }

  /** Sets (or, with no argument, removes) the request/response pair answered without waking the object. */
  setWebSocketAutoResponse(pair?: WebSocketRequestResponsePair): void {
    this.#host.autoResponse = pair === undefined ? null : checkAutoResponse(pair, this.#host.runtime.options.limits.maxAutoResponseLength);
  }

  /** The current pair (a new object on every call, as on workerd), or null. */
  getWebSocketAutoResponse(): WebSocketRequestResponsePair | null {
    const pair = this.#host.autoResponse;
    return pair === null ? null : new WebSocketRequestResponsePair(pair.request, pair.response);
  }

  /** When the auto-response last answered on `ws`, or null if never. */
  getWebSocketAutoResponseTimestamp(ws: WebSocket): Date | null {
    const at = socketArgument(ws, "getWebSocketAutoResponseTimestamp").autoResponseAt;
    return at === 0 ? null : new Date(at);
  }

  /**
   * Limits how long a hibernatable WebSocket handler may run before it is
   * abandoned; 0 or no argument removes the limit (at most 7 days, as on workerd).
   */
  setHibernatableWebSocketEventTimeout(timeoutMs?: number): void {
    const ms = timeoutMs === undefined ? 0 : toUint32(timeoutMs);
    if (ms > MAX_EVENT_TIMEOUT_MS) {
      throw workerdError(Error, "ERR_EVENT_TIMEOUT_TOO_LONG", `Event timeout should not exceed ${MAX_EVENT_TIMEOUT_MS} ms.`);
    }
    this.#host.eventTimeoutMs = ms === 0 ? null : ms;
  }

  getHibernatableWebSocketEventTimeout(): number | null {
    return this.#host.eventTimeoutMs;
  }

  /** Resets the object: the instance and uncommitted writes are discarded and its sockets closed. */
  abort(reason?: string): void {
    this.#host.reset(1011, reason ?? "Durable Object aborted", reason === undefined ? undefined : new Error(reason));
  }
}
