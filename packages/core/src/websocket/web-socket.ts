import { deserializeAttachment, serializeAttachment } from "./attachment.ts";
import { TorporError, argumentTypeError, workerdError } from "../errors.ts";
import { CLOSED, CLOSING, CONNECTING, HIBERNATABLE, OPEN, STANDARD, SocketEnd, type Message, type SocketListener } from "./socket-end.ts";
import { abortClient, clientUrl, isConnecting, openClient, tieToOpeningCode, type ClientListener } from "./web-socket-client.ts";

/** The event objects passed to `addEventListener` listeners. */
export interface WebSocketOpenEvent {
  readonly type: "open";
}
export interface WebSocketMessageEvent {
  readonly type: "message";
  /** A Blob instead of an ArrayBuffer when `binaryType` is "blob". */
  readonly data: Message | Blob;
}
export interface WebSocketCloseEvent {
  readonly type: "close";
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}
export interface WebSocketErrorEvent {
  readonly type: "error";
  readonly error: unknown;
  readonly message: string;
}
type EventMap = { open: WebSocketOpenEvent; message: WebSocketMessageEvent; close: WebSocketCloseEvent; error: WebSocketErrorEvent };
type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void };
type AnyListener = Listener<EventMap[keyof EventMap]>;

/** Cloudflare's attachment limit, used for sockets not (yet) accepted into an object. */
const DEFAULT_ATTACHMENT_LIMIT = 2_048;

let getEnd: (ws: WebSocket) => SocketEnd | undefined;

/**
 * A WebSocket as Durable Object code sees it (Cloudflare's Workers
 * `WebSocket`, installed as the global `WebSocket`): `accept`, `send`,
 * `close`, `readyState`, event listeners, and the hibernation attachment.
 * After an object wakes from hibernation, handlers receive new `WebSocket`
 * objects over the same connections. `new WebSocket(url, protocols?)` opens
 * an outbound client connection, as in a Worker.
 *
 * @example
 * const ws = new WebSocket("wss://example.com/feed");
 * ws.addEventListener("open", () => ws.send("hello"));
 * ws.addEventListener("message", (event) => console.log(event.data));
 */
export class WebSocket {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  static readonly READY_STATE_CONNECTING = CONNECTING;
  static readonly READY_STATE_OPEN = OPEN;
  static readonly READY_STATE_CLOSING = CLOSING;
  static readonly READY_STATE_CLOSED = CLOSED;

  readonly #end: SocketEnd;
  #listeners: Map<string, Set<AnyListener>> | null = null;
  #binaryType: "arraybuffer" | "blob" = "arraybuffer";

  static {
    getEnd = (ws) => (#end in ws ? ws.#end : undefined);
  }

  /** Opens an outbound connection (ws: or wss:), as `new WebSocket(url)` does in a Worker. */
  constructor(url: string | URL, protocols?: string | string[]);
  /** @internal a facade over an existing end (see `facadeOf`). */
  constructor(end: SocketEnd);
  constructor(target: string | URL | SocketEnd, protocols?: string | string[]) {
    this.#end = target instanceof SocketEnd ? target : openClient(target, protocols, clientListenerFor(this));
  }

  get readyState(): number {
    return this.#end.state;
  }

  /** The URL of an outbound connection; null for sockets made by `WebSocketPair`. */
  get url(): string | null {
    return clientUrl(this.#end) ?? null;
  }

  /** The agreed subprotocol. An outbound connection that agreed none reports null once open, as workerd does. */
  get protocol(): string | null {
    const end = this.#end;
    if (end.protocol === "" && end.state !== CONNECTING && clientUrl(end) !== undefined) return null;
    return end.protocol;
  }

  /** How binary messages reach `message` listeners: "arraybuffer" (the default) or "blob". Other values are ignored. */
  get binaryType(): "arraybuffer" | "blob" {
    return this.#binaryType;
  }

  set binaryType(value: string) {
    if (value === "arraybuffer" || value === "blob") this.#binaryType = value;
  }

  get extensions(): string {
    return "";
  }

  /**
   * Accepts the socket the standard way: events go to `addEventListener`
   * listeners, and the object stays in memory while the socket is open.
   * Use `ctx.acceptWebSocket(ws)` instead to let the object hibernate.
   */
  accept(options?: { allowHalfOpen?: boolean }): void {
    const end = this.#end;
    if (clientUrl(end) !== undefined) throw new TypeError("Websockets obtained from the 'new WebSocket()' constructor cannot call accept");
    // As on workerd: accepting twice is a no-op; after acceptWebSocket() it is an error.
    if (end.mode === STANDARD) return;
    if (end.mode === HIBERNATABLE) throw workerdError(TypeError, "ERR_WEBSOCKET_ALREADY_ACCEPTED", "Can't accept() WebSocket after enabling hibernation.");
    // Unset: the compatibility date decides (web_socket_auto_reply_to_close).
    if (typeof options?.allowHalfOpen === "boolean") end.allowHalfOpen = options.allowHalfOpen;
    if (end.owner === null) {
      end.listener = listenerFor(this);
      // Object code accepting a client end: the socket ends with its instance (dropped if it is reset).
      tieToOpeningCode(end);
    }
    end.markAccepted(STANDARD);
  }

  /** Sends a text or binary message. Held back until earlier storage writes are durable. */
  send(message: string | ArrayBuffer | ArrayBufferView): void {
    if (arguments.length === 0) throw argumentTypeError("send", "WebSocket", 1, "ArrayBuffer or ArrayBufferView or string");
    // Like workerd (WebIDL): anything that is not binary data is sent as its string form.
    this.#end.send(typeof message === "string" || message instanceof ArrayBuffer || ArrayBuffer.isView(message) ? message : String(message));
  }

  /** Closes the connection. After the peer closed, this is the reply (hibernatable and half-open sockets) or a no-op (the runtime already replied). */
  close(code?: number, reason?: string): void {
    // An outbound connection still in its handshake is abandoned (workerd: error, then close 1006).
    if (isConnecting(this.#end)) abortClient(this.#end);
    else this.#end.close(code, reason);
  }

  /**
   * Stores a structured-cloneable value with the socket (at most 2,048 bytes
   * serialized by default). It survives hibernation; it is not persisted.
   */
  serializeAttachment(value: unknown): void {
    if (arguments.length === 0) throw argumentTypeError("serializeAttachment", "WebSocket", 1, "JsValue");
    const end = this.#end;
    end.attachment = serializeAttachment(value, end.owner?.maxAttachmentBytes ?? DEFAULT_ATTACHMENT_LIMIT);
  }

  /** A fresh copy of the attachment, or null when none was set. */
  deserializeAttachment<T = unknown>(): T | null {
    return deserializeAttachment(this.#end.attachment) as T | null;
  }

  addEventListener<K extends keyof EventMap>(type: K, listener: Listener<EventMap[K]>): void {
    const all = (this.#listeners ??= new Map());
    let set = all.get(type);
    if (set === undefined) all.set(type, (set = new Set()));
    set.add(listener as AnyListener);
  }

  removeEventListener<K extends keyof EventMap>(type: K, listener: Listener<EventMap[K]>): void {
    this.#listeners?.get(type)?.delete(listener as AnyListener);
  }

  /** @internal delivers an event to the listeners (errors propagate to the runtime, which reports them). */
  dispatch(event: EventMap[keyof EventMap]): void {
    const set = this.#listeners?.get(event.type);
    if (set === undefined) return;
    for (const listener of [...set]) {
      if (typeof listener === "function") listener.call(this, event);
      else listener.handleEvent(event);
    }
  }
}

/** The internal record behind a value, or undefined when it is not a Torpor `WebSocket`. */
export function socketEndOf(value: unknown): SocketEnd | undefined {
  return typeof value === "object" && value !== null ? getEnd(value as WebSocket) : undefined;
}

/** The internal record behind a `WebSocket`. */
export function endOf(ws: WebSocket): SocketEnd {
  const end = typeof ws === "object" && ws !== null ? getEnd(ws) : undefined;
  if (end === undefined) {
    throw new TorporError("ERR_WEBSOCKET_NOT_HIBERNATABLE", "Expected a WebSocket created by new WebSocketPair() in this runtime.");
  }
  return end;
}

/** The `WebSocket` for an end in the current live period, created on first use (e.g. after a wake). */
export function facadeOf(end: SocketEnd): WebSocket {
  return (end.facade ??= new WebSocket(end)) as WebSocket;
}

function listenerFor(ws: WebSocket): SocketListener {
  return {
    onMessage: (data) => ws.dispatch({ type: "message", data: typeof data !== "string" && ws.binaryType === "blob" ? new Blob([data]) : data }),
    onClose: (code, reason, wasClean) => ws.dispatch({ type: "close", code, reason, wasClean }),
    onError: (error) => ws.dispatch({ type: "error", error, message: error instanceof Error ? error.message : String(error) }),
  };
}

function clientListenerFor(ws: WebSocket): ClientListener {
  return { ...listenerFor(ws), onOpen: () => ws.dispatch({ type: "open" }) };
}

// Cloudflare's WebSocket also has the readyState constants on its prototype (ws.OPEN).
for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
  Object.defineProperty(WebSocket.prototype, `READY_STATE_${name}`, { value, enumerable: true });
}

/**
 * Two connected WebSockets (Cloudflare's `WebSocketPair`): keep `server`
 * (accept it), return `client` in a 101 response.
 *
 * @example
 * const [client, server] = Object.values(new WebSocketPair());
 * this.ctx.acceptWebSocket(server);
 * return new Response(null, { status: 101, webSocket: client });
 */
export class WebSocketPair {
  readonly 0: WebSocket;
  readonly 1: WebSocket;

  constructor() {
    const client = new SocketEnd();
    const server = new SocketEnd();
    client.peer = server;
    server.peer = client;
    this[0] = facadeOf(client);
    this[1] = facadeOf(server);
  }
}
