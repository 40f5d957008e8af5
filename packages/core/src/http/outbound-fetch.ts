/**
 * The `fetch` Worker code calls: Node's, minus the headers that describe one
 * connection. A Worker's `Request` carries every header the client sent, as
 * on workerd, hop-by-hop ones included; a Worker that proxies with
 * `fetch(origin, request)` forwards them. Node's HTTP client (undici) refuses
 * a request carrying `Connection`, `Keep-Alive` or `Transfer-Encoding`
 * ("fetch failed": invalid keep-alive header), where workerd's (kj's) sets
 * its own connection headers and drops the caller's: `Connection`,
 * `Keep-Alive`, `TE` and `Transfer-Encoding` (the body's framing is the
 * client's choice; a stream is sent chunked). Checked against workerd by
 * compat/ (proxyHopByHop).
 */

/** kj's connection headers, which its client never forwards (`Upgrade` stays: it asks for a WebSocket). */
const CONNECTION_HEADERS = ["connection", "keep-alive", "te", "transfer-encoding"];

const kOriginal = Symbol.for("torpor.fetch.original");
type Fetch = typeof globalThis.fetch;

/** Wraps `fetch` so requests lose their connection headers; wrapping twice returns the same wrapper. */
export function outboundFetch(original: Fetch): Fetch {
  if ((original as Fetch & { [kOriginal]?: Fetch })[kOriginal] !== undefined) return original;
  const wrapped = function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<globalThis.Response> {
    const headers = init?.headers !== undefined ? new Headers(init.headers) : input instanceof Request ? input.headers : null;
    if (headers === null || !CONNECTION_HEADERS.some((name) => headers.has(name))) return original(input, init);
    const request = new Request(input, init);
    const kept = new Headers(request.headers);
    for (const name of CONNECTION_HEADERS) kept.delete(name);
    // A streamed body moves to the new request (Node needs duplex for that).
    return original(new Request(request, { headers: kept, duplex: "half" } as RequestInit));
  } as Fetch;
  (wrapped as Fetch & { [kOriginal]?: Fetch })[kOriginal] = original;
  return wrapped;
}
