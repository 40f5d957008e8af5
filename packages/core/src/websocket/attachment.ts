import { types } from "node:util";
import { deserialize, serialize } from "node:v8";
import { cloneError, workerdError } from "../errors.ts";

/**
 * What a socket keeps of its attachment: the serialized bytes, or, for a flat
 * record (a plain object whose values are all primitives, such as
 * `{ user: "ann", joined: 1700000000000 }`), the decoded record itself.
 * Handlers commonly read every peer's attachment for every message (to skip
 * the sender of a broadcast); copying a flat record is a fraction of the cost
 * of deserializing it, and the record is smaller than its bytes in a Buffer.
 */
export type StoredAttachment = Buffer | FlatRecord;
type FlatRecord = { readonly [key: string]: string | number | boolean | bigint | null | undefined };

/**
 * Serializes a socket attachment (structured clone, as Cloudflare does) and
 * enforces the size limit on the serialized bytes.
 */
export function serializeAttachment(value: unknown, limit: number): StoredAttachment {
  const flat = flatClone(value, limit);
  if (flat !== null) return flat;
  let bytes: Buffer;
  try {
    bytes = serialize(value);
  } catch (error) {
    throw cloneError(error);
  }
  if (bytes.length > limit) {
    throw workerdError(
      Error,
      "ERR_ATTACHMENT_TOO_LARGE",
      `A WebSocket 'attachment' cannot be larger than ${limit} bytes.'attachment' was ${bytes.length} bytes.`,
    );
  }
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    // Judged on the decoded clone: plain data only (no getters, symbols or proxies left).
    const decoded = deserialize(bytes) as Record<string, unknown>;
    if (isFlat(decoded)) return decoded as FlatRecord;
  }
  return bytes;
}

/** A fresh copy of the attachment on every call; `null` when none was set. */
export function deserializeAttachment(stored: StoredAttachment | null): unknown {
  if (stored === null) return null;
  if (stored instanceof Uint8Array) return deserialize(stored);
  // A copy of a flat record is a structured clone of it: same keys, order and values.
  return { ...stored };
}

/**
 * The structured clone of a flat record made without serializing it (each new
 * object's handshake sets one: serializing and decoding it was ~25 µs of an
 * open, bench/RESULTS.md), or null when that is not certain and the full path
 * decides: anything but a plain object (a proxy included, whose traps the
 * full path never runs), an accessor (its getter would run here), a value
 * that is not a string, number, boolean, null or undefined, a `__proto__` key,
 * or a size that might be over `limit` (the bound below is never under V8's
 * serialized size: a string takes at most 2 bytes a character and 8 of tag, padding and
 * length, a number 9, the rest 1, the header and object tags 16 in all).
 */
function flatClone(value: unknown, limit: number): FlatRecord | null {
  if (typeof value !== "object" || value === null || types.isProxy(value) || Object.getPrototypeOf(value) !== Object.prototype) return null;
  const copy: Record<string, unknown> = {};
  let bound = 16;
  for (const key of Object.keys(value)) {
    if (key === "__proto__") return null;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined || !("value" in descriptor)) return null;
    const v = descriptor.value as unknown;
    bound += 2 * key.length + 8;
    if (typeof v === "string") bound += 2 * v.length + 8;
    else if (typeof v === "number") bound += 9;
    else if (typeof v === "boolean" || v === null || v === undefined) bound += 1;
    else return null;
    copy[key] = v;
  }
  return bound <= limit ? (copy as FlatRecord) : null;
}

function isFlat(record: Record<string, unknown>): boolean {
  for (const key in record) {
    const v = record[key];
    if (v !== null && typeof v === "object") return false;
  }
  return true;
}
