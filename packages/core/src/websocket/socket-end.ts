import type { Socket } from "node:net";
import type { WebSocket as WsConnection } from "ws";
import type { StoredAttachment } from "./attachment.ts";
import { TorporError, domException, workerdError } from "../errors.ts";
import { outsideOwners } from "../owner-context.ts";
import type { MovedSocket } from "./moved-socket.ts";
import { holdOwnerlessOutput } from "./ownerless-output.ts";
import {
  type CloseFrameTaker,
  closeWithUnlistedCode,
  detachSocket,
  OVERSIZED,
  releaseConnection,
  sayWhyOversized,
  stopReading,
  takeOverCloseFrames,
  written,
} from "./ws-transport.ts";

/** `readyState` values, as in the WHATWG WebSocket API. */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** A WebSocket message as handlers see it. */
export type Message = string | ArrayBuffer;

/** A close waiting in an inbox or outbox, in order with the messages around it. */
export class PendingClose {
  constructor(
    readonly code: number | undefined,
    readonly reason: string,
  ) {}
}

/** What a close from code whose writes failed (a reset instance) becomes on a socket no object owns: the connection still ends. */
const SENDER_RESET = new PendingClose(1011, "Durable Object reset");

/** Where a socket accepted inside an object reports its events: the object's host. */
export interface SocketOwner {
  socketMessage(end: SocketEnd, data: Message): void;
  socketClose(end: SocketEnd, code: number, reason: string, wasClean: boolean): void;
  socketError(end: SocketEnd, error: unknown): void;
  /** Output gate: queues the send or close and returns true while writes are not yet durable. */
  holdOutput(end: SocketEnd, item: Message | PendingClose): boolean;
  /** True when the calling code may not send on the owner's sockets (an instance that was reset): the send or close is dropped. */
  refusesOutput(): boolean;
  /** The configured attachment limit in bytes. */
  readonly maxAttachmentBytes: number;
  /** Whether a peer's Close on a standard socket is answered by the runtime (compatibility flag `web_socket_auto_reply_to_close`). */
  readonly autoReplyToClose: boolean;
}

/**
 * For sockets no object owns (a Worker's own sockets, outbound clients): whether
 * the runtime answers a peer's Close. Set by the runtime from its compatibility
 * date and flags (the last runtime constructed in the process wins).
 */
let autoReplyToCloseDefault = true;

/** Sets what ownerless sockets do with a peer's Close (see `SocketOwner.autoReplyToClose`). */
export function setAutoReplyToCloseDefault(autoReply: boolean): void {
  autoReplyToCloseDefault = autoReply;
}

/** Receives events of a socket that no object owns (a client end, or a Worker-level socket). */
export interface SocketListener {
  onMessage(data: Message): void;
  onClose(code: number, reason: string, wasClean: boolean): void;
  onError(error: unknown): void;
}

const NOT_ACCEPTED = 0;
/** Accepted with `ws.accept()`: events go to listeners; pins its object in memory. */
export const STANDARD = 1;
/** Accepted with `ctx.acceptWebSocket()`: events go to handlers; survives hibernation. */
export const HIBERNATABLE = 2;

const kEnd = Symbol("torpor.end");
type BoundConnection = WsConnection & { [kEnd]?: SocketEnd };

/**
 * One end of a WebSocket: the record the runtime keeps per connection. It
 * outlives the user-facing `WebSocket` object (which is dropped when the
 * object hibernates), so it holds everything that must survive hibernation
 * (tags, attachment, auto-response time) and nothing else: idle hibernated
 * connections cost this record plus the `ws` connection.
 */
export class SocketEnd implements CloseFrameTaker {
  state = OPEN;
  mode = NOT_ACCEPTED;
  /** The other end while the pair is in-process (before or instead of a network connection). */
  peer: SocketEnd | null = null;
  /** The network connection, once the runtime completed the upgrade. */
  conn: BoundConnection | null = null;
  owner: SocketOwner | null = null;
  listener: SocketListener | null = null;
  tags: string[] | null = null;
  attachment: StoredAttachment | null = null;
  /** When the auto-response last answered on this socket (ms since epoch), 0 if never. */
  autoResponseAt = 0;
  /** The user-facing object for the current live period (see web-socket.ts). */
  facade: object | null = null;
  /** Events that arrived before the end was accepted, delivered in order at accept. */
  inbox: Array<Message | PendingClose> | null = null;
  /** `accept({ allowHalfOpen })` as given; null: as the compatibility date says (see `halfOpen`). */
  allowHalfOpen: boolean | null = null;
  /** True once a Close frame came from the other side. */
  closeReceived = false;
  /** True after a protocol error (an oversized message): reported to webSocketError, never to webSocketClose. */
  protocolError = false;
  /** The subprotocol agreed at upgrade (the 101 response's Sec-WebSocket-Protocol). */
  protocol = "";
  /** Outbound bytes the network connection may hold before the peer counts as too slow (the server's maxBufferedBytes). */
  maxBufferedBytes = Number.POSITIVE_INFINITY;

  /** Sends a message from this end (after the output gate). */
  send(data: Message | ArrayBufferView): void {
    if (this.mode === NOT_ACCEPTED) throw notAcceptedError();
    // Half-open (the peer closed, this end has not answered yet) still sends, as on workerd.
    if (this.state !== OPEN && !this.awaitingReply) throw workerdError(TypeError, "ERR_WEBSOCKET_CLOSED", "Can't call WebSocket send() after close().");
    const message = typeof data === "string" || data instanceof ArrayBuffer ? data : copyView(data);
    const owner = this.owner;
    if (owner !== null && (owner.refusesOutput() || owner.holdOutput(this, message))) return;
    // No object owns it (a client end, an outbound client): the sender's own output gate holds it.
    if (owner === null && holdOwnerlessOutput(this, message)) return;
    this.transmit(message);
  }

  /** Starts (or, half-open, completes) the closing handshake from this end. */
  close(code?: number, reason?: string): void {
    // workerd's message says "sending" for close() too.
    if (this.mode === NOT_ACCEPTED) throw notAcceptedError();
    if (code === undefined && reason !== undefined) {
      throw domException("InvalidAccessError", "If you specify a WebSocket close reason, you must also specify a code.");
    }
    if (code !== undefined) code = checkCloseCode(code);
    const text = reason ?? "";
    if (Buffer.byteLength(text) > 123) {
      throw domException("SyntaxError", "WebSocket close reason must not be longer than 123 bytes when UTF-8 encoded.");
    }
    // CLOSING with a received Close is the half-open case: this close() is the reply.
    if (this.state === CLOSED || (this.state === CLOSING && !this.closeReceived)) return;
    if (this.owner?.refusesOutput() === true) return;
    this.state = this.closeReceived ? CLOSED : CLOSING;
    const item = new PendingClose(code, text);
    if (this.owner !== null && this.owner.holdOutput(this, item)) return;
    if (this.owner === null && holdOwnerlessOutput(this, item, SENDER_RESET)) return;
    this.transmit(item);
  }

  /** Puts a message or close on the wire (or hands it to the in-process peer). */
  transmit(item: Message | PendingClose): void {
    if (this.conn !== null) {
      if (item instanceof PendingClose) closeConnection(this.conn, item.code, item.reason);
      else if (this.conn.readyState === OPEN) {
        if (this.conn.bufferedAmount > this.maxBufferedBytes) this.#closeSlowConsumer();
        else if (typeof item === "string") sendText(this.conn, item);
        else this.conn.send(item);
      }
    } else if (this.peer !== null) {
      const peer = this.peer;
      // Asynchronous like a network: the sender's handler finishes first.
      if (item instanceof PendingClose) queueMicrotask(() => peer.receiveClose(item.code ?? 1005, item.reason, true));
      else queueMicrotask(() => peer.receive(item));
    }
  }

  /**
   * The peer stopped reading (or reads slower than it is sent to) and more
   * than `maxBufferedBytes` wait for it: without a limit one such client
   * grows the server without bound. The socket is closed with 1013 ("try
   * again later": the server sheds this client; reconnecting, and resyncing,
   * is the right reaction), nothing more is queued for it (ws refuses sends
   * while closing, so a broadcast loop goes on for the other sockets), and
   * `webSocketError` says why. A peer that catches up answers the Close
   * (`webSocketClose(1013, …, true)`); one that never reads never does: the
   * connection is dropped after the server's closeTimeoutMs, and
   * `webSocketClose(1006, …, false)` runs then.
   */
  #closeSlowConsumer(): void {
    const waiting = this.conn!.bufferedAmount;
    closeConnection(this.conn!, 1013, "Slow consumer: too much data waiting to be read");
    this.receiveError(
      new TorporError(
        "ERR_WEBSOCKET_BACKPRESSURE",
        `The peer is not reading: ${waiting} bytes were waiting to be sent on this WebSocket, over the limit of ${this.maxBufferedBytes} (maxBufferedBytes), so it was closed with 1013.`,
      ),
    );
  }

  /** A message arrived for this end. */
  receive(data: Message): void {
    if (this.state === CLOSED || this.closeReceived) return;
    if (this.mode === NOT_ACCEPTED) (this.inbox ??= []).push(data);
    else if (this.owner !== null) this.owner.socketMessage(this, data);
    else this.listener?.onMessage(data);
  }

  /** A Close frame (or a dropped connection: 1006, wasClean false) arrived for this end. */
  receiveClose(code: number, reason: string, wasClean: boolean): void {
    if (this.closeReceived || (this.state === CLOSED && this.conn === null)) return;
    if (this.mode === NOT_ACCEPTED) {
      (this.inbox ??= []).push(new PendingClose(code, reason));
      return;
    }
    this.closeReceived = true;
    const initiatedHere = this.state === CLOSING;
    if (initiatedHere || !this.halfOpen()) {
      // Cloudflare's auto-reply: the runtime answers a Close frame with one,
      // so readyState is CLOSED in the handler (ws already replied on the wire).
      if (!initiatedHere && this.conn === null && this.peer !== null) this.transmit(new PendingClose(code === 1005 ? undefined : code, reason));
      this.state = CLOSED;
    } else {
      this.state = CLOSING;
    }
    if (this.owner !== null) this.owner.socketClose(this, code, reason, wasClean);
    else this.listener?.onClose(code, reason, wasClean);
  }

  /**
   * Whether a peer's Close waits for this end's own `close()` instead of an
   * automatic reply. Hibernatable sockets always wait, as on workerd (whose
   * hibernation manager never auto-replies): `webSocketClose` sees CLOSING and
   * may still send; `closeHandled` answers for a handler that did not close.
   * Standard sockets wait with `accept({ allowHalfOpen: true })`, or when the
   * compatibility date predates `web_socket_auto_reply_to_close` (2026-04-07).
   */
  halfOpen(): boolean {
    if (this.mode === HIBERNATABLE) return true;
    return this.allowHalfOpen ?? !(this.owner?.autoReplyToClose ?? autoReplyToCloseDefault);
  }

  /** CloseFrameTaker: this end answers the peer's Close itself while open and half-open. */
  answersCloseFrame(): boolean {
    return this.state === OPEN && this.conn !== null && this.halfOpen();
  }

  /** CloseFrameTaker: the peer's Close frame, not yet answered. */
  receiveCloseFrame(code: number, reason: Buffer): void {
    this.receiveClose(code, reason.toString(), true);
  }

  /** The peer's Close arrived and this end has not answered it yet (half-open). */
  get awaitingReply(): boolean {
    return this.state === CLOSING && this.closeReceived && !this.protocolError;
  }

  /**
   * The hibernatable socket's `webSocketClose` has returned (or the event
   * could not run). A handler that did not call `close()` gets the Close
   * answered here with the peer's own code, so no client waits for a reply
   * that never comes (workerd leaves it half-open until the object
   * hibernates, then drops the connection: 1006). After a dropped connection
   * there is nothing to answer: the socket is CLOSED.
   */
  closeHandled(code: number, reason: string, wasClean: boolean): void {
    if (!this.awaitingReply) return;
    this.state = CLOSED;
    const connected = this.conn !== null ? this.conn.readyState === OPEN : this.peer !== null;
    if (!wasClean || !connected) return;
    // The peer's code was valid on the wire, so it needs no check; behind the output gate like any close().
    const item = new PendingClose(code === 1005 ? undefined : code, code === 1005 ? "" : reason);
    if (this.owner !== null && this.owner.holdOutput(this, item)) return;
    this.transmit(item);
  }

  receiveError(error: unknown): void {
    if (this.owner !== null) this.owner.socketError(this, error);
    else this.listener?.onError(error);
  }

  /** Marks the end accepted and replays what arrived before, after the caller's synchronous code. */
  markAccepted(mode: typeof STANDARD | typeof HIBERNATABLE): void {
    this.mode = mode;
    const inbox = this.inbox;
    if (inbox === null) return;
    this.inbox = null;
    queueMicrotask(() => {
      for (const item of inbox) {
        if (item instanceof PendingClose) this.receiveClose(item.code ?? 1005, item.reason, true);
        else this.receive(item);
      }
    });
  }

  /**
   * Wires a network connection to this end (the server completed the
   * upgrade). What this end sent before, waiting in the client end's inbox,
   * goes out first, in order.
   */
  bind(conn: WsConnection, maxBufferedBytes = Number.POSITIVE_INFINITY): void {
    const bound = conn as BoundConnection;
    this.maxBufferedBytes = maxBufferedBytes;
    bound[kEnd] = this;
    sayWhyOversized(bound);
    takeOverCloseFrames(bound, this);
    bound.on("message", onConnectionMessage);
    bound.on("close", onConnectionClose);
    bound.on("error", onConnectionError);
    const pending = this.peer?.inbox ?? null;
    this.peer = null;
    this.conn = bound;
    if (pending !== null) for (const item of pending) this.transmit(item);
  }

  /** The client end never connected (the request was not an upgrade): report a dropped connection. */
  abandon(): void {
    this.peer = null;
    if (this.state !== CLOSED) this.receiveClose(1006, "", false);
  }

  /** Closes the network connection at once, without a handshake. */
  terminate(): void {
    this.conn?.terminate();
  }

  /**
   * Drops the connection without a closing handshake and without telling
   * this end's object (an isolate torn down): the peer sees 1006, `wasClean`
   * false. The caller has taken the end out of its object's registry.
   */
  drop(): void {
    this.owner = null;
    this.listener = null;
    this.state = CLOSED;
    if (this.conn !== null) {
      this.conn.terminate();
    } else if (this.peer !== null) {
      const peer = this.peer;
      this.peer = null;
      // Asynchronous, as a network drop would be noticed.
      queueMicrotask(() => peer.receiveClose(1006, DROPPED_REASON, false));
    }
  }

  // ---- moving to another process ------------------------------------------

  /** Stops reading the network connection at the kernel: what the peer sends next waits there (the socket is about to move). */
  pauseReading(): void {
    if (this.conn !== null) stopReading(this.conn);
  }

  /**
   * Takes the TCP socket from this end to move it to another process, once
   * everything written to it left this process (after `pauseReading`).
   * Resolves with the socket and the bytes read but not parsed, and this end
   * is closed here with `code` without a word to the peer (it is served from
   * elsewhere now). Resolves null when the connection cannot move (ws is
   * inside a frame it cannot give back): it is then closed with `code` and
   * `reason`.
   */
  async detach(code: number, reason: string): Promise<{ socket: Socket; unparsed: Buffer } | null> {
    const conn = this.conn;
    if (conn === null) return null;
    await written(conn);
    const detached = detachSocket(conn);
    if (detached === null) {
      conn.close(code, reason);
      return null;
    }
    this.conn = null;
    // ws's close event, so the server stops tracking it (heartbeat, shutdown).
    releaseConnection(conn, code);
    return detached;
  }

  /** What travels with this end when it moves (everything that survives hibernation). */
  toMoved(key: MovedSocket["key"]): MovedSocket {
    return { key, tags: this.tags, attachment: this.attachment, autoResponseAt: this.autoResponseAt, protocol: this.protocol };
  }

  /** An end for a socket that moved in (its network connection is bound by the server). */
  static fromMoved(record: MovedSocket): SocketEnd {
    const end = new SocketEnd();
    const attachment = record.attachment;
    // Bytes arrive through IPC as a Uint8Array view; a flat record as the record.
    end.attachment = attachment instanceof Uint8Array ? Buffer.from(attachment.buffer, attachment.byteOffset, attachment.byteLength) : attachment;
    end.autoResponseAt = record.autoResponseAt;
    end.protocol = record.protocol;
    return end;
  }
}

/** workerd's reason for a connection that ended without a Close frame. */
const DROPPED_REASON = "WebSocket disconnected without sending Close frame.";

/**
 * Close codes an application may send. Like workerd, the code is converted
 * as a WebIDL unsigned short (so "1000" and 1000.5 mean 1000), and every code
 * from 1000 to 4999 is accepted except 1004, 1005, 1006 and 1015, which RFC
 * 6455 reserves for the runtime (workerd's WebSocket::close).
 */
function checkCloseCode(raw: unknown): number {
  const code = Math.trunc(Number(raw));
  if (!(code >= 1000 && code <= 4999) || code === 1004 || code === 1005 || code === 1006 || code === 1015) {
    throw domException("InvalidAccessError", `Invalid WebSocket close code: ${String(raw)}.`);
  }
  return code;
}

/** Codes `ws` sends itself (its isValidStatusCode); the others (1016–2999) need closeWithUnlistedCode. */
function wsSends(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Starts the closing handshake on a network connection with any code close()
 * accepted, outside the object's async context: the close timer `ws` arms
 * belongs to the connection, not to the object's code.
 */
function closeConnection(conn: WsConnection, code: number | undefined, reason: string): void {
  outsideOwners(() => {
    if (code === undefined || wsSends(code)) conn.close(code, reason);
    else closeWithUnlistedCode(conn, code, reason);
  });
}

function notAcceptedError(): Error {
  return workerdError(
    TypeError,
    "ERR_WEBSOCKET_NOT_ACCEPTED",
    "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages.",
  );
}

function copyView(view: ArrayBufferView): ArrayBuffer {
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}

function toArrayBuffer(data: Buffer): ArrayBuffer {
  // ws may hand out a slice of a larger pooled buffer: copy unless it is exact.
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer as ArrayBuffer;
  return copyView(data);
}

// Shared listeners (`this` is the connection) so a connection costs no closures.
/**
 * The text message being delivered now and the bytes it was decoded from (ws validated them as
 * UTF-8, so encoding the string again gives the same bytes). A handler that sends that same
 * string back, or relays it to peers, while it is delivered sends these bytes instead of encoding
 * it again: the echo and the broadcast of a received message skip a UTF-8 encode and ws's string
 * write path per send. Set only during the synchronous delivery, so nothing is retained after it.
 */
let deliveringText: string | null = null;
let deliveringBytes: Buffer | null = null;
const TEXT_FRAME = { binary: false };

function onConnectionMessage(this: BoundConnection, data: Buffer, isBinary: boolean): void {
  if (isBinary) {
    this[kEnd]!.receive(toArrayBuffer(data));
    return;
  }
  const text = data.toString();
  const outerText = deliveringText;
  const outerBytes = deliveringBytes;
  deliveringText = text;
  deliveringBytes = data;
  try {
    this[kEnd]!.receive(text);
  } finally {
    deliveringText = outerText;
    deliveringBytes = outerBytes;
  }
}

/** Sends a text message on a connection: the received bytes when it is the text being delivered now (see `deliveringText`). */
function sendText(conn: WsConnection, text: string): void {
  if (text === deliveringText) conn.send(deliveringBytes!, TEXT_FRAME);
  else conn.send(text);
}

function onConnectionClose(this: BoundConnection, code: number, reason: Buffer): void {
  const end = this[kEnd]!;
  // workerd's wording for a connection that went away without a Close frame.
  end.receiveClose(code, code === 1006 ? DROPPED_REASON : reason.toString(), code !== 1006);
  // A hibernatable socket stays CLOSING until its webSocketClose() has run (closeHandled), as on workerd.
  if (end.mode !== HIBERNATABLE || !end.awaitingReply) end.state = CLOSED;
}

function onConnectionError(this: BoundConnection, error: Error & { code?: string }): void {
  const end = this[kEnd]!;
  if (error.code === OVERSIZED) {
    // As on workerd: the error goes to webSocketError at readyState CLOSING,
    // the socket then leaves getWebSockets(), and no webSocketClose follows.
    end.protocolError = true;
    end.closeReceived = true;
    end.state = CLOSING;
    end.receiveError(new Error(`WebSocket protocol error; protocolError.statusCode = 1009; protocolError.description = ${TOO_LARGE}`));
    return;
  }
  end.receiveError(error);
}

/** workerd's reason for closing on a message over the limit. */
const TOO_LARGE = "Message is too large";
