import { deserialize, serialize } from "node:v8";
import { TorporError, formatCount } from "./errors.ts";

/**
 * Serializes a socket attachment (structured clone, as Cloudflare does) and
 * enforces the size limit on the serialized bytes.
 */
export function serializeAttachment(value: unknown, limit: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = serialize(value);
  } catch (error) {
    throw new TorporError(
      "ERR_ATTACHMENT_NOT_CLONEABLE",
      `serializeAttachment() takes a structured-cloneable value (objects, arrays, strings, numbers, Map, Date, …); this one is not: ${(error as Error).message.replace(/\.$/, "")}. Store plain data, not functions, symbols or class instances with behaviour.`,
      { cause: error },
    );
  }
  if (bytes.length > limit) {
    throw new TorporError(
      "ERR_ATTACHMENT_TOO_LARGE",
      `Attachment is ${formatCount(bytes.length)} bytes serialized; the limit is ${formatCount(limit)}. Keep large state in storage and store its key here.`,
    );
  }
  return bytes;
}

/** A fresh copy of the attachment on every call; `null` when none was set. */
export function deserializeAttachment(bytes: Buffer | null): unknown {
  return bytes === null ? null : deserialize(bytes);
}
