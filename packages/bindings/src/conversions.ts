/**
 * How workerd's bindings (JSG) convert JavaScript arguments, for the APIs
 * implemented here: the same results and the same TypeErrors, so code
 * written for Cloudflare sees no difference (workerd src/workerd/jsg/value.h).
 */
import { argumentTypeError } from "@torpor/core/storage";

export { argumentTypeError };

const INT32_MESSAGE = "Value out of range. Must be between -2147483648 and 2147483647 (inclusive).";

/** JSG's `int`: NaN, infinities and non-numbers become 0, fractions are truncated, finite values outside int32 throw. */
export function toInt32(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) return 0;
  if (n < -2_147_483_648 || n > 2_147_483_647) throw new TypeError(INT32_MESSAGE);
  return Math.trunc(n);
}

/** JSG's `kj::String`: any value but a symbol converts with String(). */
export function toStringArg(value: unknown, method: string, iface: string, position: number, type = "string"): string {
  if (typeof value === "symbol") throw argumentTypeError(method, iface, position, type);
  return String(value);
}

/** True for a plain dictionary argument (JSG_STRUCT): an object that is not a function; null/undefined count as absent. */
export function isDictionary(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The bytes of an ArrayBuffer or view, copied (the caller may change them after the call). */
export function copyBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

/** True for an ArrayBuffer or any view on one (typed array, DataView). */
export function isBufferSource(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}
