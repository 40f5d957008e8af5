import { afterOutputGate, type Clock } from "@torpor/core";
import { argumentTypeError, copyBytes, isBufferSource, toInt32 } from "../conversions.ts";
import type { KvEntry, KvStore } from "./kv-store.ts";

/** Cloudflare's KV limits, as workerd and Miniflare enforce them. */
export const KV_LIMITS = {
  maxKeyBytes: 512,
  maxValueBytes: 25 * 1024 * 1024,
  maxMetadataBytes: 1024,
  minCacheTtlSeconds: 30,
  minExpirationTtlSeconds: 60,
  maxListKeys: 1000,
  maxBulkKeys: 100,
  maxBulkBytes: 25 * 1024 * 1024,
} as const;

const IFACE = "KvNamespace";
const TYPES = ["text", "json", "arrayBuffer", "stream"] as const;
type ValueType = (typeof TYPES)[number];
const UNKNOWN_TYPE = 'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".';
const BAD_VALUE = "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.";

/** One key of a `list()` page. */
export interface KvListKey {
  name: string;
  expiration?: number;
  metadata?: unknown;
}

/** A `list()` page: `cursor` is there when `list_complete` is false. */
export interface KvListResult {
  keys: KvListKey[];
  list_complete: boolean;
  cursor?: string;
  cacheStatus: null;
}

interface GetOptions {
  type: string | undefined;
  cacheTtl: number | undefined;
}

/**
 * workerd reports a failed KV request as `Error("KV <METHOD> failed: <status> <text>")`,
 * with the status and text Miniflare's KV service answers; these are the same errors.
 */
function failed(method: string, status: number, text: string): Error {
  return new Error(`KV ${method} failed: ${status} ${text}`);
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** workerd's own key checks, made before any request. */
function validateKeyName(method: string, name: string): void {
  if (name === "") throw new TypeError("Key name cannot be empty.");
  if (name === "." || name === "..") throw new TypeError(`"${name}" is not allowed as a key name.`);
  checkKeyLength(method, name);
}

function checkKeyLength(method: string, name: string): void {
  const bytes = utf8Length(name);
  if (bytes > KV_LIMITS.maxKeyBytes) throw failed(method, 414, `UTF-8 encoded length of ${bytes} exceeds key length limit of ${KV_LIMITS.maxKeyBytes}.`);
}

function checkCacheTtl(method: string, cacheTtl: number | undefined): void {
  if (cacheTtl !== undefined && cacheTtl < KV_LIMITS.minCacheTtlSeconds)
    throw failed(method, 400, `Invalid cache_ttl of ${cacheTtl}. Cache TTL must be at least ${KV_LIMITS.minCacheTtlSeconds}.`);
}

/** `get(name, options)`'s second argument: a type string, or `{ type, cacheTtl }`; null and undefined are none. */
function getOptions(options: unknown): GetOptions {
  if (options === undefined || options === null) return { type: undefined, cacheTtl: undefined };
  if (typeof options !== "object" && typeof options !== "function") return { type: String(options), cacheTtl: undefined };
  const { type, cacheTtl } = options as { type?: unknown; cacheTtl?: unknown };
  return { type: type === undefined ? undefined : String(type), cacheTtl: cacheTtl === undefined ? undefined : toInt32(cacheTtl) };
}

/** `get()`'s first argument: a key, or an array of keys (a bulk get). */
function keyArgument(method: string, name: unknown): string | string[] {
  if (Array.isArray(name)) return name.map(String);
  if (name === undefined || typeof name === "symbol") throw argumentTypeError(method, IFACE, 1, "string or Array");
  return String(name);
}

/** True for a key V8 keeps as an array index, which workerd's bulk get leaves out of its result map. */
function isArrayIndex(key: string): boolean {
  const n = Number(key);
  return String(n) === key && Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1;
}

function decodeText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(new Uint8Array(bytes));
      controller.close();
    },
  });
}

/** Reads a value stream to its end, keeping at most `max` bytes but counting them all (the error reports the full length). */
async function readStream(stream: ReadableStream<unknown>, max: number): Promise<{ bytes: Uint8Array; length: number }> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream as unknown as AsyncIterable<unknown>) {
    if (!isBufferSource(chunk)) throw new TypeError("This TransformStream is being used as a byte stream, but received a value that is not a BufferSource.");
    const bytes = copyBytes(chunk);
    length += bytes.byteLength;
    if (length <= max) chunks.push(bytes);
  }
  return { bytes: Buffer.concat(chunks), length };
}

/**
 * A KV namespace binding (`env.MY_KV`), as workerd's `KvNamespace` with Miniflare's
 * local service behind it: the same methods, conversions, results and errors.
 * Values live in a {@link KvStore} (one SQLite file per namespace under the data
 * directory). `cacheTtl` is validated and has no other effect: there is one
 * location and no cache to go stale, so every read sees the latest write.
 */
export class KvNamespace {
  readonly #store: KvStore;
  readonly #clock: Clock;

  /** @internal made by the KV plugin for each `kv_namespaces` entry. */
  constructor(store: KvStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** `get(key, type | { type, cacheTtl })`, or `get(keys[], …)` for up to 100 keys (a Map of text or JSON values). */
  get(name: unknown, options?: unknown): Promise<unknown> {
    const key = keyArgument("get", name);
    const opts = getOptions(options);
    // A bulk get is a POST on Cloudflare, and so waits for the output gate like a write; a single get does not.
    if (Array.isArray(key)) return this.#run(() => this.#afterOutputGate(() => this.#getBulk(key, opts, false)));
    return this.#run(() => this.#getOne(key, opts).then((r) => r.value));
  }

  /** Like get(), with the metadata: `{ value, metadata, cacheStatus }` (a Map of `{ value, metadata }` for a key array). */
  getWithMetadata(name: unknown, options?: unknown): Promise<unknown> {
    const key = keyArgument("getWithMetadata", name);
    const opts = getOptions(options);
    if (Array.isArray(key)) return this.#run(() => this.#afterOutputGate(() => this.#getBulk(key, opts, true)));
    return this.#run(() => this.#getOne(key, opts));
  }

  /** `put(key, value, { expiration, expirationTtl, metadata })`: a string, ArrayBuffer, view or ReadableStream of at most 25 MiB. */
  put(...args: unknown[]): Promise<void> {
    return this.#run(async () => {
      const [name, value, options] = args;
      const key = String(name);
      if (args.length < 2) throw argumentTypeError("put", IFACE, 2, "string or JsObject");
      if (options !== undefined && options !== null && typeof options !== "object") throw argumentTypeError("put", IFACE, 3, "PutOptions");
      const { expiration, expirationTtl, metadata } = (options ?? {}) as { expiration?: unknown; expirationTtl?: unknown; metadata?: unknown };
      const exp = expiration === undefined ? undefined : toInt32(expiration);
      const ttl = expirationTtl === undefined ? undefined : toInt32(expirationTtl);
      validateKeyName("PUT", key);
      // JSON.stringify gives undefined for a function (kept as undefined, which the service cannot parse: see below).
      const metadataJson: string | null | undefined = metadata === undefined || metadata === null ? null : JSON.stringify(metadata);
      let body: Uint8Array | ReadableStream<unknown>;
      if (typeof value === "object" && value !== null) {
        if (isBufferSource(value)) body = copyBytes(value);
        else if (value instanceof ReadableStream) body = value;
        else throw new TypeError(BAD_VALUE);
      } else if (typeof value === "function") throw new TypeError(BAD_VALUE);
      else body = Buffer.from(String(value), "utf8");

      // What Miniflare's KV service checks, in its order.
      const now = Math.floor(this.#clock.now() / 1000);
      const expiresAt = this.#expiration(now, exp, ttl);
      if (typeof metadataJson === "string" && utf8Length(metadataJson) > KV_LIMITS.maxMetadataBytes)
        throw failed("PUT", 413, `Metadata length of ${utf8Length(metadataJson)} exceeds limit of ${KV_LIMITS.maxMetadataBytes}.`);
      if (metadataJson === undefined) throw failed("PUT", 500, "Internal Server Error");
      let bytes: Uint8Array;
      if (body instanceof ReadableStream) {
        const read = await readStream(body, KV_LIMITS.maxValueBytes);
        if (read.length > KV_LIMITS.maxValueBytes) throw failed("PUT", 413, `Value length of ${read.length} exceeds limit of ${KV_LIMITS.maxValueBytes}.`);
        bytes = read.bytes;
      } else {
        if (body.byteLength > KV_LIMITS.maxValueBytes)
          throw failed("PUT", 413, `Value length of ${body.byteLength} exceeds limit of ${KV_LIMITS.maxValueBytes}.`);
        bytes = body;
      }
      const entry = { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), expiration: expiresAt, metadata: metadataJson };
      // Behind the calling object's output gate (workerd's put waits for the output locks): see #afterOutputGate.
      await this.#afterOutputGate(() => this.#store.put(key, entry));
    });
  }

  /** `delete(key)`: resolves (to undefined) whether or not the key existed. */
  delete(...args: unknown[]): Promise<void> {
    return this.#run(async () => {
      if (args.length < 1 || typeof args[0] === "symbol") throw argumentTypeError("delete", IFACE, 1, "string");
      const key = String(args[0]);
      validateKeyName("DELETE", key);
      await this.#afterOutputGate(() => this.#store.delete(key));
    });
  }

  /** `list({ prefix, limit, cursor })`: up to `limit` (1000) keys in UTF-8 byte order, with their expiration and metadata. */
  list(options?: unknown): Promise<KvListResult> {
    return this.#run(async () => {
      if (options !== undefined && options !== null && typeof options !== "object") throw argumentTypeError("list", IFACE, 1, "ListOptions");
      const o = (options ?? {}) as { limit?: unknown; prefix?: unknown; cursor?: unknown };
      const given = o.limit === undefined ? 0 : toInt32(o.limit);
      const prefix = o.prefix === undefined || o.prefix === null ? "" : String(o.prefix);
      const cursor = o.cursor === undefined || o.cursor === null ? undefined : String(o.cursor);
      // workerd sends the limit only when it is positive; the service defaults to 1000.
      const limit = given > 0 ? given : KV_LIMITS.maxListKeys;
      if (limit > KV_LIMITS.maxListKeys)
        throw failed("GET", 400, `Invalid key_count_limit of ${limit}. Please specify an integer less than ${KV_LIMITS.maxListKeys}.`);
      checkKeyLength("GET", prefix);
      const startAfter = cursor === undefined ? "" : Buffer.from(cursor, "base64").toString("utf8");
      const rows = this.#store.list(prefix, startAfter, limit + 1, this.#clock.now());
      const more = rows.length > limit;
      if (more) rows.length = limit;
      const keys = rows.map(
        (row): KvListKey => ({
          name: row.key,
          ...(row.expiration !== null ? { expiration: row.expiration } : {}),
          ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as unknown } : {}),
        }),
      );
      const last = rows.at(-1);
      return more && last !== undefined
        ? { keys, list_complete: false, cursor: Buffer.from(last.key, "utf8").toString("base64"), cacheStatus: null }
        : { keys, list_complete: true, cacheStatus: null };
    });
  }

  /**
   * Runs a request to the store once the calling Durable Object's writes so
   * far are durable (at once from Worker code or with nothing pending), as
   * workerd does for KV's put, delete and bulk get: the store commits at
   * once (synchronous FULL), so without the wait a power loss could keep this
   * write and lose the object's write before it. From an object instance that
   * was reset, the request is never made.
   */
  #afterOutputGate<T>(request: () => T | Promise<T>): Promise<T> {
    return afterOutputGate(async () => request());
  }

  /** Runs an operation so that everything it throws becomes a rejection (workerd's evalNow). */
  async #run<T>(operation: () => Promise<T>): Promise<T> {
    return operation();
  }

  #expiration(now: number, expiration: number | undefined, expirationTtl: number | undefined): number | null {
    if (expirationTtl !== undefined) {
      if (expirationTtl <= 0) throw failed("PUT", 400, `Invalid expiration_ttl of ${expirationTtl}. Please specify integer greater than 0.`);
      if (expirationTtl < KV_LIMITS.minExpirationTtlSeconds)
        throw failed("PUT", 400, `Invalid expiration_ttl of ${expirationTtl}. Expiration TTL must be at least ${KV_LIMITS.minExpirationTtlSeconds}.`);
      return now + expirationTtl;
    }
    if (expiration !== undefined) {
      if (expiration <= now)
        throw failed(
          "PUT",
          400,
          `Invalid expiration of ${expiration}. Please specify integer greater than the current number of seconds since the UNIX epoch.`,
        );
      if (expiration < now + KV_LIMITS.minExpirationTtlSeconds)
        throw failed(
          "PUT",
          400,
          `Invalid expiration of ${expiration}. Expiration times must be at least ${KV_LIMITS.minExpirationTtlSeconds} seconds in the future.`,
        );
      return expiration;
    }
    return null;
  }

  async #getOne(key: string, options: GetOptions): Promise<{ value: unknown; metadata: unknown; cacheStatus: null }> {
    validateKeyName("GET", key);
    checkCacheTtl("GET", options.cacheTtl);
    const entry = this.#store.get(key, this.#clock.now());
    if (entry === null) return { value: null, metadata: null, cacheStatus: null };
    const type = options.type ?? "text";
    if (!(TYPES as readonly string[]).includes(type)) throw new TypeError(UNKNOWN_TYPE);
    return { value: decodeValue(entry, type as ValueType), metadata: entry.metadata === null ? null : JSON.parse(entry.metadata), cacheStatus: null };
  }

  async #getBulk(keys: string[], options: GetOptions, withMetadata: boolean): Promise<Map<string, unknown>> {
    const type = options.type ?? "text";
    if (type !== "text" && type !== "json") throw failed("GET_BULK", 400, `"${type}" is not a valid type. Use "json" or "text"`);
    if (keys.length > KV_LIMITS.maxBulkKeys) throw failed("GET_BULK", 400, `You can request a maximum of ${KV_LIMITS.maxBulkKeys} keys`);
    if (keys.length < 1) throw failed("GET_BULK", 400, "You must request a minimum of 1 key");
    const now = this.#clock.now();
    const found: Record<string, unknown> = {};
    let size = 0;
    for (const key of keys) {
      if (key === "") throw failed("GET_BULK", 400, "Key names must not be empty");
      if (key === "." || key === "..") throw failed("GET_BULK", 400, `Illegal key name "${key}". Please use a different name.`);
      checkKeyLength("GET_BULK", key);
      checkCacheTtl("GET_BULK", options.cacheTtl);
      const entry = this.#store.get(key, now);
      if (entry === null) {
        found[key] = null;
        continue;
      }
      const text = decodeText(entry.value);
      // The service counts UTF-16 code units of the decoded text.
      size += text.length;
      let value: unknown = text;
      if (type === "json") {
        try {
          value = JSON.parse(text);
        } catch {
          throw failed("GET_BULK", 400, "At least one of the requested keys corresponds to a non-json value");
        }
      }
      found[key] = withMetadata ? { value, metadata: entry.metadata === null ? null : JSON.parse(entry.metadata) } : value;
    }
    if (size > KV_LIMITS.maxBulkBytes) throw failed("GET_BULK", 413, `Total size of request exceeds the limit of ${KV_LIMITS.maxBulkBytes / 1024 / 1024}MB`);
    return new Map(
      Object.keys(found)
        .filter((k) => !isArrayIndex(k))
        .map((k) => [k, found[k]]),
    );
  }
}

function decodeValue(entry: KvEntry, type: ValueType): unknown {
  switch (type) {
    case "text":
      return decodeText(entry.value);
    case "json":
      return JSON.parse(decodeText(entry.value));
    case "arrayBuffer":
      return toArrayBuffer(entry.value);
    case "stream":
      return streamOf(entry.value);
  }
}
