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

function isFlat(record: Record<string, unknown>): boolean {
  for (const key in record) {
    const v = record[key];
    if (v !== null && typeof v === "object") return false;
  }
  return true;
}
