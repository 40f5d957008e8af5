/**
 * The one module that knows `ws`'s internals. Everything Torpor does to a
 * `ws` connection below its public API is here, read from ws 8.23
 * (lib/websocket.js, lib/receiver.js, lib/sender.js, lib/websocket-server.js): the catalog
 * pins ws to that minor version, and `ws-transport.test.ts` fails naming the
 * private field if an upgrade removes one (`missingInternals`).
 *
 * What needs them:
 * - workerd's close reason for an oversized message (`sayWhyOversized`);
 * - Close frames with the codes ws refuses to send but workerd accepts
 *   (1016–2999, `closeWithUnlistedCode`), written through ws's Sender;
 * - half-open sockets, whose Close frame the application answers
 *   (`takeOverCloseFrames`);
 * - moving a live connection's TCP socket to another process without the
 *   peer noticing (`stopReading`, `written`, `detachSocket`,
 *   `releaseConnection`), and serving one that arrived (`resumeConnection`):
 *   every byte read but not yet parsed travels with the socket, re-encoded
 *   as the frame prefix it came from, so messages arrive once and in order.
 *   Compression is off on the server, so no inflate state exists; a
 *   receiver in any other state cannot move (null), and the caller closes
 *   the socket with 1012 instead.
 */
import type { Socket } from "node:net";
import { WebSocket as WsWebSocket, type WebSocketServer, type WebSocket as WsConnection } from "ws";

/** The private members used here, by owner, for `missingInternals`. */
const INTERNALS = {
  WebSocket: ["_receiver", "_sender", "_socket", "_closeFrameReceived", "_closeCode", "_closeMessage", "setSocket", "emitClose"],
  Sender: ["enqueue"],
  "Sender.constructor": ["frame"],
  Receiver: ["_state", "_buffers", "_fin", "_opcode", "_fragmented", "_fragments", "_payloadLength", "_mask", "_compressed"],
  WebSocketServer: ["options"],
} as const;

/**
 * The private members of ws this module uses that `conn` (a connection with
 * a socket) or `server` lacks, as "Owner#field" names: empty while ws still
 * has them all.
 */
export function missingInternals(conn: WsConnection, server?: WebSocketServer): string[] {
  const missing: string[] = [];
  const check = (owner: keyof typeof INTERNALS, value: unknown) => {
    for (const field of INTERNALS[owner]) {
      if ((typeof value !== "object" && typeof value !== "function") || value === null || !(field in value)) missing.push(`${owner}#${field}`);
    }
  };
  check("WebSocket", conn);
  check("Receiver", (conn as unknown as { _receiver?: unknown })._receiver);
  const sender = (conn as unknown as { _sender?: { constructor?: unknown } })._sender;
  check("Sender", sender);
  check("Sender.constructor", sender?.constructor);
  if (server !== undefined) check("WebSocketServer", server);
  return missing;
}

const GET_INFO = 0;
const GET_PAYLOAD_LENGTH_16 = 1;
const GET_PAYLOAD_LENGTH_64 = 2;
const GET_MASK = 3;
const GET_DATA = 4;

/** The Receiver fields read here (ws/lib/receiver.js). */
interface ReceiverState extends NodeJS.EventEmitter {
  _state: number;
  _buffers: Buffer[];
  _fin: boolean;
  _opcode: number;
  _fragmented: number;
  _fragments: Buffer[];
  _payloadLength: number;
  _mask: Buffer | undefined;
  _compressed: boolean;
}

/** The WebSocket fields and methods used here (ws/lib/websocket.js). */
interface ConnectionInternals {
  _receiver: ReceiverState;
  _socket: Socket;
  _closeFrameReceived: boolean;
  _closeCode: number;
  _closeMessage: Buffer;
  setSocket(socket: Socket, head: Buffer, options: object): void;
  emitClose(): void;
}

const ZERO_MASK = Buffer.alloc(4);

/** One masked client frame header (RFC 6455 §5.2). */
function header(fin: boolean, opcode: number, length: number, mask: Buffer): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  let head: Buffer;
  if (length < 126) head = Buffer.from([first, 0x80 | length]);
  else if (length < 65_536) {
    head = Buffer.alloc(4);
    head[0] = first;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = first;
    head[1] = 0x80 | 127;
    head.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    head.writeUInt32BE(length >>> 0, 6);
  }
  return Buffer.concat([head, mask]);
}

/**
 * The bytes a receiver took in but has not delivered as messages, as wire
 * bytes a fresh receiver parses to the same messages. Null in a state that
 * cannot be re-encoded (inflating, a deferred event).
 */
export function unparsedBytes(receiver: ReceiverState): Buffer[] | null {
  const state = receiver._state;
  if (state > GET_DATA || receiver._compressed) return null;
  const parts: Buffer[] = [];
  const mid = state !== GET_INFO;
  const control = mid && receiver._opcode > 0x07;
  // A first fragment still being read has no earlier payload to carry.
  const firstFragmentInFlight = mid && !control && receiver._fragments.length === 0;
  if (receiver._fragmented !== 0 && !firstFragmentInFlight) {
    // The payloads of earlier fragments, unmasked already: one non-final frame with a zero mask.
    const earlier = Buffer.concat(receiver._fragments);
    parts.push(header(false, receiver._fragmented, earlier.length, ZERO_MASK), earlier);
  }
  if (mid) {
    const opcode = !control && receiver._fragmented !== 0 && !firstFragmentInFlight ? 0 : receiver._opcode;
    const first = (receiver._fin ? 0x80 : 0) | opcode;
    if (state === GET_PAYLOAD_LENGTH_16) parts.push(Buffer.from([first, 0x80 | 126]));
    else if (state === GET_PAYLOAD_LENGTH_64) parts.push(Buffer.from([first, 0x80 | 127]));
    else if (state === GET_MASK) parts.push(header(receiver._fin, opcode, receiver._payloadLength, Buffer.alloc(0)));
    else parts.push(header(receiver._fin, opcode, receiver._payloadLength, receiver._mask ?? ZERO_MASK));
  }
  parts.push(...receiver._buffers);
  return parts;
}

/** Stops reading at the kernel: bytes the peer sends from now on wait in the socket's receive buffer. */
export function stopReading(conn: WsConnection): void {
  const socket = (conn as unknown as ConnectionInternals)._socket;
  const handle = (socket as unknown as { _handle: { reading: boolean; readStop(): number } | null })._handle;
  socket.pause();
  if (handle !== null) {
    handle.reading = false;
    handle.readStop();
  }
}

/** Resolves once everything this process wrote on the connection left its buffers (it is in the kernel or sent). */
export function written(conn: WsConnection): Promise<void> {
  const socket = (conn as unknown as ConnectionInternals)._socket;
  if (socket.writableLength === 0 || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (socket.writableLength === 0 || socket.destroyed) {
        socket.off("drain", check);
        socket.off("close", check);
        resolve();
      }
    };
    socket.on("drain", check);
    socket.on("close", check);
  });
}

/**
 * Takes the socket away from ws (after `stopReading` and `written`): returns
 * it with the bytes read but not parsed, or null when the receiver is in a
 * state that cannot move. ws no longer hears from the socket afterwards;
 * `releaseConnection` then ends the connection on this side.
 */
export function detachSocket(conn: WsConnection): { socket: Socket; unparsed: Buffer } | null {
  const internals = conn as unknown as ConnectionInternals;
  const socket = internals._socket;
  const parts = unparsedBytes(internals._receiver);
  if (parts === null) return null;
  socket.removeAllListeners("data");
  socket.removeAllListeners("end");
  socket.removeAllListeners("close");
  socket.removeAllListeners("error");
  socket.on("error", () => {});
  // Chunks the stream read past ws (it pauses the socket under backpressure): they come after the receiver's.
  let chunk: Buffer | null;
  while ((chunk = socket.read() as Buffer | null) !== null) parts.push(chunk);
  return { socket, unparsed: Buffer.concat(parts) };
}

/**
 * Ends a connection whose socket was detached, on this side only: ws's own
 * close path (readyState CLOSED, its receiver's listeners gone) with `code`,
 * so what tracks the connection (the server's heartbeat and shutdown) lets
 * it go. Nothing is written: the socket serves the peer from elsewhere.
 */
export function releaseConnection(conn: WsConnection, code: number): void {
  const internals = conn as unknown as ConnectionInternals;
  internals._closeCode = code;
  internals._closeMessage = Buffer.alloc(0);
  internals.emitClose();
}

/**
 * A ws connection over a socket whose handshake was answered elsewhere (a
 * socket moved from another process): what WebSocketServer does after
 * writing the 101 (websocket-server.js completeUpgrade), with the server's
 * options. `unparsed` is read before anything the socket still holds.
 */
export function resumeConnection(server: WebSocketServer, socket: Socket, unparsed: Buffer): WsConnection {
  const options = (server as unknown as { options: Record<string, unknown> }).options;
  const conn = new WsWebSocket(null as unknown as string, undefined, options);
  (conn as unknown as ConnectionInternals).setSocket(socket, unparsed, {
    allowSynchronousEvents: options.allowSynchronousEvents,
    maxBufferedChunks: options.maxBufferedChunks,
    maxFragments: options.maxFragments,
    maxPayload: options.maxPayload,
    skipUTF8Validation: options.skipUTF8Validation,
  });
  // A socket stopped by stopReading in this same process (not one that came through IPC, which
  // arrives fresh) stays paused through ws's 'data' listener, and its stream still counts a read
  // in progress, so it would never ask the kernel again: start both again.
  const handle = (socket as unknown as { _handle: { reading: boolean; readStart(): number } | null })._handle;
  if (handle !== null && !handle.reading) {
    handle.reading = true;
    handle.readStart();
  }
  socket.resume();
  return conn;
}

/** ws's error code for a message over maxPayload, and workerd's reason for closing on it. */
export const OVERSIZED = "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
const TOO_LARGE = "Message is too large";

const kConn = Symbol("torpor.conn");
type TaggedReceiver = ReceiverState & { [kConn]?: WsConnection };
let wsReceiverOnError: ((this: TaggedReceiver, error: Error) => void) | undefined;

/**
 * ws answers a message over maxPayload with Close 1009 and no reason;
 * workerd's Close frame says "Message is too large". ws's receiver error
 * listener (receiverOnError) calls `websocket.close(code)`: this shared
 * listener runs it with that call supplying the reason. Shared, so a
 * connection costs no closure.
 */
export function sayWhyOversized(conn: WsConnection): void {
  const receiver = (conn as unknown as { _receiver?: TaggedReceiver })._receiver;
  if (receiver === undefined) return;
  const original = receiver.listeners("error")[0] as typeof wsReceiverOnError;
  if (original === undefined) return;
  wsReceiverOnError ??= original;
  receiver.removeListener("error", original);
  receiver.on("error", onReceiverError);
  receiver[kConn] = conn;
}

function onReceiverError(this: TaggedReceiver, error: Error & { code?: string }): void {
  const conn = this[kConn];
  if (error.code !== OVERSIZED || conn === undefined) {
    wsReceiverOnError!.call(this, error);
    return;
  }
  const close = conn.close;
  conn.close = (code?: number) => close.call(conn, code, TOO_LARGE);
  try {
    wsReceiverOnError!.call(this, error);
  } finally {
    delete (conn as { close?: unknown }).close;
  }
}

/** Who answers a connection's Close frames (`takeOverCloseFrames`). */
export interface CloseFrameTaker {
  /** True when the application answers this Close frame instead of ws (asked per frame). */
  answersCloseFrame(): boolean;
  /** The peer's Close frame, recorded as ws would; nothing was replied. */
  receiveCloseFrame(code: number, reason: Buffer): void;
}

const kTaker = Symbol("torpor.closeTaker");
type ConcludingReceiver = TaggedReceiver & { [kTaker]?: CloseFrameTaker };
let wsReceiverOnConclude: ((this: ConcludingReceiver, code: number, reason: Buffer) => void) | undefined;

/**
 * `ws` answers a Close frame itself (receiverOnConclude). Where the
 * application answers instead (hibernatable sockets, which workerd never
 * auto-replies for; `accept({ allowHalfOpen: true })`; a compatibility date
 * before `web_socket_auto_reply_to_close`), this shared listener records the
 * frame as ws would and reports it to `taker` without replying: the end's own
 * `close()` sends the reply later, and ws then ends the connection because it
 * saw the peer's Close. Otherwise ws's listener runs as usual. Shared, so a
 * connection costs no closure.
 */
export function takeOverCloseFrames(conn: WsConnection, taker: CloseFrameTaker): void {
  const receiver = (conn as unknown as { _receiver?: ConcludingReceiver })._receiver;
  if (receiver === undefined) return;
  receiver[kConn] = conn;
  receiver[kTaker] = taker;
  const original = receiver.listeners("conclude")[0] as typeof wsReceiverOnConclude;
  if (original === undefined || original === onReceiverConclude) return;
  wsReceiverOnConclude ??= original;
  receiver.removeListener("conclude", original);
  receiver.on("conclude", onReceiverConclude);
}

function onReceiverConclude(this: ConcludingReceiver, code: number, reason: Buffer): void {
  const conn = this[kConn];
  const taker = this[kTaker];
  if (conn === undefined || taker === undefined || !taker.answersCloseFrame()) {
    wsReceiverOnConclude!.call(this, code, reason);
    return;
  }
  const internals = conn as unknown as ConnectionInternals;
  internals._closeFrameReceived = true;
  internals._closeCode = code;
  internals._closeMessage = Buffer.from(reason);
  taker.receiveCloseFrame(code, reason);
}

/** The Sender internals closeWithUnlistedCode needs (ws/lib/sender.js). */
interface WsSender {
  enqueue(params: unknown[]): void;
  constructor: { frame(data: Buffer, options: { opcode: number }): unknown };
}

/** A code ws's close() accepts, sent in place of the real one until the frame's bytes are rewritten. */
const STAND_IN_CODE = 3999;

/**
 * Sends a Close frame whose code `ws` refuses (1016–2999: registered or
 * reserved by RFC 6455, accepted by workerd). ws's close() does all the rest
 * of the handshake (state, timer, ending the socket after the reply), so it
 * runs with a stand-in code, and the two code bytes of the payload are
 * rewritten as the frame is built (Sender.frame, or the queue when the sender
 * is busy), before any masking.
 */
export function closeWithUnlistedCode(conn: WsConnection, code: number, reason: string): void {
  const sender = (conn as unknown as { _sender?: WsSender })._sender;
  if (sender === undefined) {
    conn.close(1000, reason);
    return;
  }
  const Sender = sender.constructor;
  const frame = Sender.frame;
  const rewrite = (data: unknown, opcode: number | undefined) => {
    if (opcode === 0x08 && Buffer.isBuffer(data) && data.length >= 2 && data.readUInt16BE(0) === STAND_IN_CODE) data.writeUInt16BE(code, 0);
  };
  Sender.frame = (data, options) => {
    rewrite(data, options.opcode);
    return frame.call(Sender, data, options);
  };
  const enqueue = sender.enqueue;
  sender.enqueue = (params) => {
    rewrite(params[1], (params[3] as { opcode?: number } | undefined)?.opcode);
    enqueue.call(sender, params);
  };
  try {
    conn.close(STAND_IN_CODE, reason);
  } finally {
    Sender.frame = frame;
    delete (sender as { enqueue?: unknown }).enqueue;
  }
}
