/**
 * Provider-independent rules of Durable Object storage: key and value limits,
 * structured-clone serialization, `list()` options and alarm times. Every
 * storage provider calls these so all of them accept and refuse the same inputs
 * with the same error codes and messages.
 */
import { deserialize, serialize } from "node:v8";
import type { DurableObjectListOptions } from "./storage.ts";
import { argumentTypeError, cloneError, formatCount, TorporError, workerdError } from "../errors.ts";

/** Storage limits; Cloudflare's SQLite-backed numbers are the defaults. */
export interface StorageLimits {
  /** Largest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest key + serialized value, in bytes. */
  maxValueBytes: number;
  /** Most keys in one `get`/`put`/`delete` call. */
  maxKeysPerCall: number;
}

/** Cloudflare's limits: 2 KiB keys, 2 MiB key + value, 128 keys per call. */
export const defaultStorageLimits: Readonly<StorageLimits> = Object.freeze({
  maxKeyBytes: 2_048,
  maxValueBytes: 2_097_152,
  maxKeysPerCall: 128,
});

/** Fills in defaults and refuses non-positive or non-integer limits. */
export function resolveStorageLimits(limits?: Partial<StorageLimits>): StorageLimits {
  const out = { ...defaultStorageLimits, ...limits };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TorporError(
        "ERR_INVALID_OPTIONS",
        `Storage limit ${name} is ${String(value)}; it must be a positive integer. Omit it to use the default (${formatCount(defaultStorageLimits[name as keyof StorageLimits])}).`,
      );
    }
  }
  return out;
}

/**
 * Converts `key` to a string as workerd does (`1` is the key "1"; a symbol
 * throws JavaScript's TypeError) and checks it against the key size limit.
 */
export function validateKey(raw: unknown, limits: StorageLimits): string {
  const key = typeof raw === "string" ? raw : `${raw as string}`;
  // Most keys are short ASCII: a string of n UTF-16 units is at most 3n UTF-8 bytes.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > limits.maxKeyBytes) {
      throw new TorporError(
        "ERR_STORAGE_KEY_TOO_LARGE",
        `Key is ${formatCount(bytes)} bytes; the limit is ${formatCount(limits.maxKeyBytes)}. Use a shorter key or a hash of it.`,
      );
    }
  }
  return key;
}

/** Throws unless a multi-key call stays within `maxKeysPerCall`. */
export function checkKeyCount(count: number, method: string, limits: StorageLimits): void {
  if (count > limits.maxKeysPerCall) {
    throw new TorporError(
      "ERR_STORAGE_TOO_MANY_KEYS",
      `${method}() was given ${formatCount(count)} keys; the limit is ${formatCount(limits.maxKeysPerCall)} per call. Split the call into batches of at most ${formatCount(limits.maxKeysPerCall)}.`,
    );
  }
}

/**
 * Structured-clones `value` into bytes (`node:v8`, like Cloudflare) and checks
 * key + value against `maxValueBytes`. `key` must already be validated.
 */
export function serializeValue(key: string, value: unknown, limits: StorageLimits): Buffer {
  let bytes: Buffer;
  try {
    bytes = serialize(value);
  } catch (cause) {
    throw cloneError(cause);
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: count exactly only near the limit (this runs on every put).
  if (bytes.length + key.length * 3 <= limits.maxValueBytes) return bytes;
  const total = bytes.length + Buffer.byteLength(key, "utf8");
  if (total > limits.maxValueBytes) {
    throw new TorporError(
      "ERR_STORAGE_VALUE_TOO_LARGE",
      `Key ${JSON.stringify(truncate(key))} and its serialized value are ${formatCount(total)} bytes; the limit is ${formatCount(limits.maxValueBytes)}. Split the value across several keys or keep it in SQL rows.`,
    );
  }
  return bytes;
}

/** Turns stored bytes back into a fresh value (a new copy on every call). */
export function deserializeValue<T = unknown>(bytes: Uint8Array): T {
  return deserialize(bytes) as T;
}

/** `list()` options after validation: only the bounds that apply, and `limit` only when given. */
export interface NormalizedListOptions {
  /** Inclusive lower bound. */
  start?: string;
  /** Exclusive lower bound. */
  startAfter?: string;
  /** Exclusive upper bound. */
  end?: string;
  prefix?: string;
  reverse: boolean;
  limit?: number;
}

/**
 * Converts `list()` options as workerd does: the bounds and prefix to
 * strings, `reverse` to a boolean, `limit` to a whole number that must be
 * positive; `start` and `startAfter` exclude each other. `iface` names the
 * API in the type error for options that are not an object.
 */
export function normalizeListOptions(options: DurableObjectListOptions | undefined, iface: string): NormalizedListOptions {
  const out: NormalizedListOptions = { reverse: false };
  if (options === undefined || options === null) return out;
  if (typeof options !== "object" && typeof options !== "function") throw argumentTypeError("list", iface, 1, "ListOptions");
  for (const name of ["start", "startAfter", "end", "prefix"] as const) {
    const v = options[name] as unknown;
    if (v !== undefined) out[name] = typeof v === "string" ? v : `${v as string}`;
  }
  out.reverse = Boolean(options.reverse);
  const limit = options.limit === undefined ? undefined : toInteger(options.limit);
  if (out.start !== undefined && out.startAfter !== undefined) {
    throw workerdError(TypeError, "ERR_STORAGE_INVALID_LIST_OPTIONS", "list() cannot be called with both start and startAfter values.");
  }
  if (limit !== undefined) {
    if (limit <= 0) throw workerdError(TypeError, "ERR_STORAGE_INVALID_LIST_OPTIONS", "List limit must be positive.");
    out.limit = limit;
  }
  return out;
}

/** JSG's conversion to a signed integer (truncating; NaN and infinities refused). */
function toInteger(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw workerdError(TypeError, "ERR_INVALID_ARGUMENT", "The value cannot be converted because it is not an integer.");
  return Math.trunc(n);
}

/** workerd's TypeError for an options argument that is not an object (undefined and null mean none). */
export function checkOptions(options: unknown, method: string, position: number, type: string): void {
  if (options !== undefined && options !== null && typeof options !== "object") throw argumentTypeError(method, "DurableObjectStorage", position, type);
}

/**
 * Converts an alarm time as workerd does (JSG's `kj::Date`): a `Date` or a
 * number of ms since the epoch, truncated to whole ms; anything else, an
 * invalid date, or a time <= 0 is workerd's TypeError.
 */
export function validateAlarmTime(scheduledTime: unknown): number {
  let ms: number;
  if (scheduledTime instanceof Date) ms = scheduledTime.getTime();
  else if (typeof scheduledTime === "number") ms = scheduledTime;
  else throw argumentTypeError("setAlarm", "DurableObjectStorage", 1, "date");
  if (!Number.isFinite(ms)) throw workerdError(TypeError, "ERR_STORAGE_INVALID_ALARM", "The value cannot be converted because it is not a valid Date.");
  ms = Math.trunc(ms);
  if (ms <= 0) throw workerdError(TypeError, "ERR_STORAGE_INVALID_ALARM", "setAlarm() cannot be called with an alarm time <= 0");
  return ms;
}

/** The error `transactionSync` throws, after rolling back, when its closure returns a promise. */
export function asyncTransactionSyncError(): TorporError {
  return new TorporError(
    "ERR_STORAGE_ASYNC_TRANSACTION_SYNC",
    "transactionSync() closure returned a promise; it must be synchronous, so its writes were rolled back. Use storage.transaction(async (txn) => ...) for asynchronous work.",
  );
}

/** The error thrown by any use of a storage after `close()`. */
export function storageClosedError(): TorporError {
  return new TorporError(
    "ERR_STORAGE_CLOSED",
    "This object's storage is closed (the object hibernated or the runtime stopped). Use the ctx.storage of the current instance.",
  );
}

/**
 * Compares keys in UTF-8 byte order, the order SQLite gives TEXT keys with
 * the BINARY collation. It equals code point order, which differs from JS's
 * UTF-16 `<` only for astral characters versus U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8.
      const xs = x <= 0xdfff;
      const ys = y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The least string greater (in byte order) than every string starting with
 * `prefix`, or undefined when none exists. Used as an exclusive upper bound.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      // Skip the surrogate block: lone surrogates are not valid UTF-8.
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/** True when `key` is inside the normalized list bounds (used by in-memory scans). */
export function keyInRange(key: string, o: NormalizedListOptions): boolean {
  if (o.prefix !== undefined && !key.startsWith(o.prefix)) return false;
  if (o.start !== undefined && compareKeys(key, o.start) < 0) return false;
  if (o.startAfter !== undefined && compareKeys(key, o.startAfter) <= 0) return false;
  if (o.end !== undefined && compareKeys(key, o.end) >= 0) return false;
  return true;
}

function truncate(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Date) return `Date(${String(value.getTime())})`;
  switch (typeof value) {
    case "string":
      return JSON.stringify(truncate(value));
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    default:
      return Array.isArray(value) ? "an array" : `an object (${Object.prototype.toString.call(value)})`;
  }
}
