import { WebSocket as WsConnection } from "ws";
import { currentOutputBarrier, outsideOwners, tieToRunningOwner } from "../owner-context.ts";
import { CLOSED, CONNECTING, OPEN, STANDARD, SocketEnd, type SocketListener } from "./socket-end.ts";

/** Cloudflare's largest WebSocket message (32 MiB), also for messages an outbound client receives. */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** An outbound connection: its URL, and the `ws` client while the handshake runs. */
interface ClientState {
  readonly url: string;
  connecting: WsConnection | null;
  /** True while the connection waits for the opening code's output gate (it has not started). */
  waiting: boolean;
}

// Kept beside the end rather than in it, so server-side ends (the many) pay nothing for it.
const clients = new WeakMap<SocketEnd, ClientState>();

/** What an outbound client reports besides the usual socket events. */
export interface ClientListener extends SocketListener {
  onOpen(): void;
}

/**
 * Opens an outbound WebSocket connection for `new WebSocket(url, protocols)`
 * in Worker or object code, the way workerd does it: the socket starts
 * CONNECTING, needs no `accept()` (it is accepted when the handshake
 * completes), and a connection that never opens gives an `error` event
 * ("Network connection lost.") and then `close` 1006 "Failed to establish
 * websocket connection", wasClean false. Throws workerd's SyntaxError
 * (a DOMException) for a URL that is invalid or not ws:/wss:. Like any
 * subrequest (workerd waits for the output locks before connecting), the
 * connection starts once the opening object's writes so far are durable;
 * from an object whose writes failed, it never starts.
 */
export function openClient(url: string | URL, protocols: string | string[] | undefined, listener: ClientListener): SocketEnd {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new DOMException("WebSocket Constructor: The url is invalid.", "SyntaxError");
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new DOMException("WebSocket Constructor: The url scheme must be ws or wss.", "SyntaxError");
  }
  const end = new SocketEnd();
  end.state = CONNECTING;
  end.listener = listener;
  tieToOpeningCode(end);
  const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
  const state: ClientState = { url: parsed.href, connecting: null, waiting: false };
  clients.set(end, state);
  const barrier = currentOutputBarrier();
  if (barrier === null) {
    connect(end, state, parsed, list, listener);
  } else {
    state.waiting = true;
    barrier.then(
      () => {
        if (!state.waiting) return;
        state.waiting = false;
        connect(end, state, parsed, list, listener);
      },
      () => {
        if (!state.waiting) return;
        state.waiting = false;
        failed(end, listener);
      },
    );
  }
  return end;
}

/** Starts the handshake of an outbound client. */
function connect(end: SocketEnd, state: ClientState, url: URL, protocols: string[], listener: ClientListener): void {
  const conn = new WsConnection(url, protocols, { maxPayload: MAX_MESSAGE_BYTES });
  state.connecting = conn;
  const fail = () => {
    conn.removeAllListeners();
    // Keep an error listener: ws may still report on a socket being torn down.
    conn.on("error", ignore);
    state.connecting = null;
    failed(end, listener);
  };
  conn.once("error", fail);
  conn.once("close", fail);
  conn.once("open", () => {
    conn.removeAllListeners();
    state.connecting = null;
    end.protocol = conn.protocol;
    end.mode = STANDARD;
    end.bind(conn);
    if (end.state === CONNECTING) end.state = OPEN;
    listener.onOpen();
  });
}

/** The connection never opened: workerd's error, then close 1006. */
function failed(end: SocketEnd, listener: ClientListener): void {
  if (end.state === CLOSED) return;
  end.state = CLOSED;
  listener.onError(new Error("Network connection lost."));
  listener.onClose(1006, "Failed to establish websocket connection", false);
}

/** `close()` while the handshake is still running (or has not started): abandon it, as workerd does (error, then close 1006). */
export function abortClient(end: SocketEnd): void {
  const state = clients.get(end);
  if (state === undefined) return;
  if (state.waiting) {
    state.waiting = false;
    const listener = end.listener as ClientListener;
    // Asynchronous, as when a started handshake is terminated.
    queueMicrotask(() => failed(end, listener));
  } else {
    state.connecting?.terminate();
  }
}

/** The URL an outbound client was opened with, or undefined for other sockets. */
export function clientUrl(end: SocketEnd): string | undefined {
  return clients.get(end)?.url;
}

/** True while an outbound client's handshake runs (or waits to start). */
export function isConnecting(end: SocketEnd): boolean {
  const state = clients.get(end);
  return state !== undefined && (state.connecting !== null || state.waiting);
}

function ignore(): void {}

/**
 * Ties a socket no object owns (an outbound client, or a client end that
 * object code accepted) to the code opening or accepting it: if that
 * object's instance is reset, the socket is dropped (a handshake still
 * running is abandoned), as workerd tears down a broken actor's I/O; the
 * peer sees 1006 "WebSocket disconnected without sending Close frame.".
 */
export function tieToOpeningCode(end: SocketEnd): void {
  tieToRunningOwner({
    drop: () =>
      outsideOwners(() => {
        abortClient(end);
        end.drop();
      }),
    // An end the object then returned from its fetch() is its own (owner set): its reset closes it with 1011 instead.
    // One nobody listens to any more (dropped, or detached by the runtime to close it) is the runtime's, not the code's.
    isOpen: () => end.state !== CLOSED && end.owner === null && end.listener !== null,
  });
}
