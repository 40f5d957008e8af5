/**
 * How a message becomes a frame of a cluster channel (frame-channel.ts) and
 * back: a 4-byte big-endian length, then the bytes of Node's `v8` serializer
 * (the structured clone algorithm, as Node's "advanced" IPC uses it), with
 * two changes that give RPC values what `structuredClone` gives them in one
 * process, so that a routed call needs no clone of its own before it is
 * serialized (issue 23 item 5):
 * - a `Buffer` is written as the `Uint8Array` it is (Node's serializer would
 *   bring back a `Buffer`; `structuredClone` and workerd give a `Uint8Array`);
 * - a typed array or DataView read back owns its memory (Node's
 *   deserializer returns a view into the frame's bytes, which a read from the
 *   socket shares with the other frames of that read: another call's values).
 *
 * A message encoded into a `Frame` is a snapshot: what its sender changes
 * afterwards is not in it, as with a structured clone taken at that moment.
 */
import { DefaultDeserializer, DefaultSerializer } from "node:v8";

/** Bytes of room left before the serialized message for its length. */
const HEAD = new Uint8Array(4);

/** A message encoded now, head included: it goes out as it was when encoded. */
export class Frame {
  constructor(readonly bytes: Buffer) {}
}

/** Node's hooks for the ArrayBufferViews it serializes itself (absent from its typings). */
interface ViewHooks {
  _writeHostObject(view: NodeJS.ArrayBufferView): void;
  _readHostObject(): NodeJS.ArrayBufferView;
}
const writeView = (DefaultSerializer.prototype as unknown as ViewHooks)._writeHostObject;
const readView = (DefaultDeserializer.prototype as unknown as ViewHooks)._readHostObject;

class FrameSerializer extends DefaultSerializer {
  _writeHostObject(view: NodeJS.ArrayBufferView): void {
    // Node writes a Buffer as a Buffer; a structured clone of one is a Uint8Array.
    writeView.call(this, Buffer.isBuffer(view) ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : view);
  }
}

class FrameDeserializer extends DefaultDeserializer {
  _readHostObject(): NodeJS.ArrayBufferView {
    const view = readView.call(this);
    // A copy of its own bytes: the frame's buffer holds other messages too.
    const own = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
    if (view instanceof DataView) return new DataView(own);
    const Typed = view.constructor as new (buffer: ArrayBufferLike) => NodeJS.ArrayBufferView;
    return new Typed(own);
  }
}

/** `message` as a frame. Throws what the serializer throws (a value it cannot clone); nothing is sent then. */
export function encodeFrame(message: unknown): Frame {
  const serializer = new FrameSerializer();
  serializer.writeRawBytes(HEAD);
  serializer.writeHeader();
  serializer.writeValue(message);
  const bytes = serializer.releaseBuffer();
  bytes.writeUInt32BE(bytes.byteLength - HEAD.byteLength, 0);
  return new Frame(bytes);
}

/** The message a frame's body (the bytes after its length) holds. Throws if they are not one. */
export function decodeFrame(body: Buffer): unknown {
  const deserializer = new FrameDeserializer(body);
  deserializer.readHeader();
  return deserializer.readValue();
}
