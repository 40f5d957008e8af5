/**
 * Taking a live `ws` connection apart so its TCP socket can move to another
 * process (cluster reload) without the peer noticing: reading stops at the
 * kernel, and every byte this process read but did not turn into a message
 * is given back, re-encoded as the frame prefix it came from. The receiving
 * process feeds those bytes to a fresh connection ahead of what the kernel
 * still holds, so messages arrive once and in order.
 *
 * This reads private state of ws's Receiver (lib/receiver.js, ws 8): the
 * parse state, the header fields of a frame in progress, the payloads of
 * earlier fragments and the unconsumed chunks. Compression is off on the
 * server, so no inflate state exists; a receiver in any other state returns
 * null and the caller closes the socket with 1012 instead of moving it.
 */
import type { Socket } from "node:net";
import type { WebSocket as WsConnection } from "ws";

const GET_INFO = 0;
const GET_PAYLOAD_LENGTH_16 = 1;
const GET_PAYLOAD_LENGTH_64 = 2;
const GET_MASK = 3;
const GET_DATA = 4;

/** The Receiver fields read here. */
interface ReceiverState {
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

interface ConnectionInternals {
  _receiver: ReceiverState;
  _socket: Socket;
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
 * state that cannot move. ws no longer hears from the socket afterwards.
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
