import { join } from "node:path";
import { afterOutputGate, systemClock, type Clock } from "@torpor/core";
import { notModified, parseRanges, storagePlan, type ByteRange } from "./cache-policy.ts";
import { CacheStore, type CacheStoreLimits } from "./cache-store.ts";
import { takeBody } from "./taken-body.ts";

/** Statuses whose responses carry no body: workerd's local cache never keeps them. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** The options `match` and `delete` take, as on Cloudflare. */
export interface CacheQueryOptions {
  ignoreMethod?: boolean;
}

function notImplemented(method: string, on: string): never {
  throw new Error(`Failed to execute '${method}' on '${on}': the method is not implemented.`);
}

/** The request a cache key names: a Request as is, a string or URL parsed (workerd's TypeError for a relative one). */
function toRequest(input: RequestInfo | URL): Request {
  if (input instanceof Request) return input;
  const url = String(input);
  if (!URL.canParse(url)) throw new TypeError(`Invalid URL: ${url}`);
  return new Request(url);
}

/** The key of a request: its URL without the fragment. */
function keyOf(request: Request): string {
  const url = new URL(request.url);
  url.hash = "";
  return url.href;
}

/**
 * One cache (`caches.default` or `await caches.open(name)`), as workerd's local
 * mode gives it: `put` keeps what Cache-Control allows until it expires, `match`
 * answers it with `CF-Cache-Status: HIT` (304 for a satisfied If-None-Match or
 * If-Modified-Since, 206 or 416 for a Range), `delete` removes it.
 */
export class Cache {
  readonly #name: string;
  readonly #storage: CacheStorage;

  /** @internal Made by {@link CacheStorage}. */
  constructor(name: string, storage: CacheStorage) {
    this.#name = name;
    this.#storage = storage;
  }

  /** Keeps `response` for `request` if its headers allow (resolves either way, as on Cloudflare). */
  async put(input: RequestInfo | URL, response: Response): Promise<undefined> {
    if (!(response instanceof Response)) throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
    const request = toRequest(input);
    if (request.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
    if (response.status === 206) throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
    if (
      response.headers
        .get("vary")
        ?.split(",")
        .some((field) => field.trim() === "*")
    ) {
      throw new TypeError("Cannot cache response with 'Vary: *' header.");
    }
    if (response.status === 101 || (response as { webSocket?: unknown }).webSocket != null) {
      throw new TypeError('Worker tried to return a WebSocket in a response to a request which did not contain the header "Upgrade: websocket".');
    }
    if (response.bodyUsed) throw new TypeError("Body has already been used. It can only be used once. Use tee() first if you need to read it twice.");
    const url = new URL(request.url);
    const now = this.#storage.clock.now();
    const plan = storagePlan(request.url, request.headers, response.status, response.headers, now);
    if (!plan.storable || NULL_BODY_STATUSES.has(response.status) || (url.protocol !== "http:" && url.protocol !== "https:")) {
      await response.body?.cancel();
      return undefined;
    }
    // The body is taken now, before any wait (workerd serializes it at once: it is disturbed when put() returns);
    // the write waits for the calling Durable Object's output gate, as workerd's Cache.put waits for the output locks.
    const body = response.body === null ? null : takeBody(response.body);
    const meta = { status: response.status, headers: plan.headers, expires: now + plan.ttl };
    try {
      await afterOutputGate(() => this.#storage.store().put(this.#name, keyOf(request), meta, body, now));
    } catch (error) {
      await body?.cancel(error).catch(() => {});
      throw error;
    }
    return undefined;
  }

  /** The cached response for `request`, or undefined (a miss, or a method other than GET without `ignoreMethod`). */
  async match(input: RequestInfo | URL, options?: CacheQueryOptions): Promise<Response | undefined> {
    const request = toRequest(input);
    if (request.method !== "GET" && options?.ignoreMethod !== true) return undefined;
    const store = this.#storage.store();
    const entry = store.get(this.#name, keyOf(request), this.#storage.clock.now());
    if (entry === undefined) return undefined;
    const headers = new Headers(entry.headers);
    if (!headers.has("content-length")) headers.set("content-length", String(entry.size));
    headers.set("cf-cache-status", "HIT");
    const rangeHeader = request.headers.get("range");
    const ranges = rangeHeader === null ? [] : parseRanges(rangeHeader, entry.size);
    if (ranges === undefined) {
      return new Response(null, { status: 416, headers: { "content-range": `bytes */${entry.size}`, "cf-cache-status": "HIT" } });
    }
    if (notModified(request.headers, headers)) return new Response(null, { status: 304, headers });
    if (ranges.length === 0) {
      const body = await store.body(entry);
      return body === undefined ? undefined : new Response(body, { status: entry.status, headers });
    }
    if (ranges.length === 1) {
      const range = ranges[0]!;
      const body = await store.body(entry, range);
      if (body === undefined) return undefined;
      headers.set("content-range", `bytes ${range.start}-${range.end}/${entry.size}`);
      headers.set("content-length", String(range.end - range.start + 1));
      return new Response(body, { status: 206, headers });
    }
    const boundary = `torpor-boundary-${crypto.randomUUID()}`;
    const contentType = headers.get("content-type");
    headers.set("content-type", `multipart/byteranges; boundary=${boundary}`);
    headers.delete("content-length");
    return new Response(multipart(store, entry, ranges, boundary, contentType), { status: 206, headers });
  }

  /** Removes the entry of `request`; true if there was one. */
  async delete(input: RequestInfo | URL, options?: CacheQueryOptions): Promise<boolean> {
    const request = toRequest(input);
    if (request.method !== "GET" && options?.ignoreMethod !== true) return false;
    return this.#storage.store().delete(this.#name, keyOf(request));
  }

  /** Not provided by Cloudflare's Cache API. */
  add(): never {
    return notImplemented("add", "Cache");
  }
  /** Not provided by Cloudflare's Cache API. */
  addAll(): never {
    return notImplemented("addAll", "Cache");
  }
  /** Not provided by Cloudflare's Cache API. */
  keys(): never {
    return notImplemented("keys", "Cache");
  }
  /** Not provided by Cloudflare's Cache API. */
  matchAll(): never {
    return notImplemented("matchAll", "Cache");
  }
}

/** The body of a multi-range answer: each range as a part with its Content-Range. */
function multipart(
  store: CacheStore,
  entry: Parameters<CacheStore["body"]>[0],
  ranges: ByteRange[],
  boundary: string,
  contentType: string | null,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        for (const [i, range] of ranges.entries()) {
          const type = contentType === null ? "" : `Content-Type: ${contentType}\r\n`;
          controller.enqueue(
            encoder.encode(`${i > 0 ? "\r\n" : ""}--${boundary}\r\n${type}Content-Range: bytes ${range.start}-${range.end}/${entry.size}\r\n\r\n`),
          );
          const body = await store.body(entry, range);
          if (body === undefined) throw new Error("The cached response was replaced while it was read.");
          for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) controller.enqueue(chunk);
        }
        controller.enqueue(encoder.encode(`\r\n--${boundary}--`));
        controller.close();
      } catch (error) {
        controller.error(error);
      }
    },
  });
}

/** Where the caches keep their data and what bounds them. */
export interface CacheStorageOptions {
  /** The folder of the cache's files (`<data dir>/cache`). */
  dir: string;
  clock?: Clock | undefined;
  limits?: Partial<CacheStoreLimits> | undefined;
}

/**
 * The global `caches`: `caches.default` and `caches.open(name)`, kept on disk under the
 * data directory and shared by a cluster's processes. The files are opened on first use,
 * so a Worker that never caches pays nothing.
 *
 * @example
 * const caches = new CacheStorage({ dir: join(dataDir, "cache") });
 * await caches.default.put(url, new Response("hi", { headers: { "cache-control": "max-age=60" } }));
 */
export class CacheStorage {
  /** @internal */
  readonly clock: Clock;
  readonly #options: CacheStorageOptions;
  #store: CacheStore | undefined;
  readonly #default: Cache;

  constructor(options: CacheStorageOptions) {
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.#default = new Cache("", this);
  }

  /** The default cache (one object, as on Cloudflare). */
  get default(): Cache {
    return this.#default;
  }

  /** The cache named `name` (the empty name is the default cache's). */
  async open(name: string): Promise<Cache> {
    return new Cache(String(name), this);
  }

  /** Not provided by Cloudflare's Cache API. */
  has(): never {
    return notImplemented("has", "CacheStorage");
  }
  /** Not provided by Cloudflare's Cache API. */
  keys(): never {
    return notImplemented("keys", "CacheStorage");
  }
  /** Not provided by Cloudflare's Cache API. */
  delete(): never {
    return notImplemented("delete", "CacheStorage");
  }
  /** Not provided by Cloudflare's Cache API. */
  match(): never {
    return notImplemented("match", "CacheStorage");
  }

  /** @internal The files, opened on first use. */
  store(): CacheStore {
    this.#store ??= new CacheStore(this.#options.dir, this.#options.limits);
    return this.#store;
  }

  /** Closes the cache's files (a later use opens them again). */
  close(): void {
    this.#store?.close();
    this.#store = undefined;
  }
}

/** `new CacheStorage` for a data directory: its caches live in `<dataDir>/cache`. */
export function openCaches(dataDir: string, clock?: Clock): CacheStorage {
  return new CacheStorage({ dir: join(dataDir, "cache"), clock });
}
