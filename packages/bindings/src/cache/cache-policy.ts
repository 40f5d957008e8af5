import CachePolicy from "http-cache-semantics";

/** Whether a response may be kept, until when, and the headers the cache answers with. */
export interface StoragePlan {
  storable: boolean;
  /** Milliseconds from now the entry stays (0: it is a miss at once). */
  ttl: number;
  headers: Array<[string, string]>;
}

/**
 * Decides what to keep as workerd's local cache does (Miniflare's cache service, which
 * uses this same library): a shared cache's rules on the response's Cache-Control, Expires,
 * Age and Last-Modified; the request's own Cache-Control is ignored; `Set-Cookie` makes a
 * response unstorable unless Cache-Control names `private=Set-Cookie`, which drops the cookie.
 */
export function storagePlan(url: string, requestHeaders: Headers, status: number, responseHeaders: Headers, now: number): StoragePlan {
  const reqHeaders = lowerCased(requestHeaders);
  delete reqHeaders["cache-control"];
  const resHeaders = lowerCased(responseHeaders);
  // workerd sends the response to its cache without Connection (a hop-by-hop header it sets itself), so the fields it names stay.
  delete resHeaders.connection;
  const cacheControl = resHeaders["cache-control"];
  // Miniflare's exact rewrite (it leaves the separator: "private=Set-Cookie, max-age=60" becomes ", max-age=60").
  if (cacheControl?.toLowerCase().includes("private=set-cookie")) {
    resHeaders["cache-control"] = cacheControl.toLowerCase().replace(/private=set-cookie;?/i, "");
    delete resHeaders["set-cookie"];
  }
  planNow = now;
  const policy = new ClockedPolicy({ url, method: "GET", headers: reqHeaders }, { status, headers: resHeaders }, { shared: true });
  const headers = Object.entries(policy.responseHeaders()).flatMap(([name, value]): Array<[string, string]> => {
    if (value === undefined) return [];
    return Array.isArray(value) ? value.map((v): [string, string] => [name, v]) : [[name, String(value)]];
  });
  return { storable: policy.storable() && !("set-cookie" in resHeaders), ttl: policy.timeToLive(), headers };
}

/** The time the library reads through `now()`: the cache's clock (tests pass a virtual one), set for each synchronous plan. */
let planNow = 0;

class ClockedPolicy extends CachePolicy {
  now(): number {
    return planNow;
  }
}

function lowerCased(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) out[name.toLowerCase()] = value;
  return out;
}

/** A byte range of a body, both ends included. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The ranges a `Range` header asks of a body of `length` bytes, as workerd's local
 * cache reads them: undefined when unsatisfiable or malformed (a 416), [] when the
 * header asks for nothing (the whole body).
 */
export function parseRanges(header: string, length: number): ByteRange[] | undefined {
  const prefix = /^ *bytes *=/i.exec(header);
  if (prefix === null) return undefined;
  const rest = header.slice(prefix[0].length);
  if (rest.trimStart() === "") return [];
  const out: ByteRange[] = [];
  for (const part of rest.split(",")) {
    const match = /^ *(?<start>\d+)? *- *(?<end>\d+)? *$/.exec(part);
    if (match === null) return undefined;
    const { start, end } = match.groups as { start?: string; end?: string };
    if (start !== undefined && end !== undefined) {
      const s = Number.parseInt(start, 10);
      const e = Number.parseInt(end, 10);
      if (s > e || s >= length) return undefined;
      out.push({ start: s, end: Math.min(e, length - 1) });
    } else if (start !== undefined) {
      const s = Number.parseInt(start, 10);
      if (s >= length) return undefined;
      out.push({ start: s, end: length - 1 });
    } else if (end !== undefined) {
      const suffix = Number.parseInt(end, 10);
      if (suffix >= length) return [];
      if (suffix !== 0) out.push({ start: length - suffix, end: length - 1 });
    } else {
      return undefined;
    }
  }
  return out;
}

/** Whether the request's If-None-Match or If-Modified-Since is satisfied by the cached headers (a 304). */
export function notModified(request: Headers, cached: Headers): boolean {
  const ifNoneMatch = request.get("if-none-match");
  const eTag = cached.get("etag");
  if (ifNoneMatch !== null && eTag !== null) {
    const tag = opaqueTag(eTag);
    if (tag !== undefined) {
      if (ifNoneMatch.trim() === "*") return true;
      if (ifNoneMatch.split(",").some((candidate) => opaqueTag(candidate) === tag)) return true;
    }
  }
  const ifModifiedSince = request.get("if-modified-since");
  const lastModified = cached.get("last-modified");
  if (ifModifiedSince !== null && lastModified !== null) {
    // Only IMF-fixdate counts; anything else (NaN) never compares true.
    if (httpDate(lastModified) <= httpDate(ifModifiedSince)) return true;
  }
  return false;
}

function opaqueTag(value: string): string | undefined {
  return /^(W\/)?"(.+)"$/.exec(value.trim())?.[2];
}

function httpDate(value: string): number {
  return /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d\d\d \d\d:\d\d:\d\d GMT$/.test(value)
    ? Date.parse(value)
    : Number.NaN;
}
