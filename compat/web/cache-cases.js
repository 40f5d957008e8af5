// Cache API cases: what put/match/delete do with Cache-Control and friends.
// Each case uses its own URL, so cases do not see each other's entries.

let n = 0;
/** A fresh cache key per use. */
const key = (path = "") => `https://cache.probe/${++n}${path}`;

/** What a matched response looks like (Date and Age depend on the clock). */
async function seen(response) {
  if (response === undefined) return "undefined";
  const headers = [...response.headers].filter(([k]) => k !== "date").map(([k, v]) => (k === "age" ? [k, /^\d+$/.test(v) ? "<n>" : v] : [k, v]));
  return { status: response.status, headers, body: await response.text() };
}

/** put, then match the same key: what comes back. */
async function roundTrip(init, body = "hello", request = undefined) {
  const url = key();
  const put = await caches.default.put(request ?? url, new Response(body, init));
  return { put: put === undefined ? "undefined" : put, match: await seen(await caches.default.match(url)) };
}

export const cacheCases = {
  "max-age: stored": () => roundTrip({ headers: { "cache-control": "max-age=3600", "content-type": "text/plain", etag: '"v1"', "x-custom": "1" } }),
  "s-maxage: stored": () => roundTrip({ headers: { "cache-control": "s-maxage=3600" } }),
  "public: stored": () => roundTrip({ headers: { "cache-control": "public, max-age=60" } }),
  "Expires in the future: stored": () => roundTrip({ headers: { expires: "Fri, 01 Jan 2100 00:00:00 GMT" } }),
  "Expires in the past: not stored": () => roundTrip({ headers: { expires: "Thu, 01 Jan 1970 00:00:00 GMT" } }),
  "no Cache-Control: not kept": () => roundTrip({}),
  "Last-Modified heuristic: stored": () => roundTrip({ headers: { "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT" } }),
  "no-store: not stored": () => roundTrip({ headers: { "cache-control": "no-store" } }),
  "no-cache: not kept": () => roundTrip({ headers: { "cache-control": "no-cache, max-age=60" } }),
  "private: not stored": () => roundTrip({ headers: { "cache-control": "private, max-age=60" } }),
  "max-age=0: not kept": () => roundTrip({ headers: { "cache-control": "max-age=0" } }),
  "Age past max-age: not kept": () => roundTrip({ headers: { "cache-control": "max-age=50", age: "100" } }),
  "Age within max-age": () => roundTrip({ headers: { "cache-control": "max-age=500", age: "100" } }),
  "Set-Cookie: not stored": () => roundTrip({ headers: { "cache-control": "max-age=60", "set-cookie": "a=1" } }),
  "private=Set-Cookie: stored without the cookie": () => roundTrip({ headers: { "cache-control": "private=Set-Cookie, max-age=60", "set-cookie": "a=1" } }),
  "stale-while-revalidate keeps it": () => roundTrip({ headers: { "cache-control": "max-age=0, stale-while-revalidate=60" } }),
  "status 404 with max-age": () => roundTrip({ status: 404, headers: { "cache-control": "max-age=60" } }),
  "status 500 with max-age": () => roundTrip({ status: 500, headers: { "cache-control": "max-age=60" } }),
  "status 302 with max-age": () => roundTrip({ status: 302, headers: { "cache-control": "max-age=60", location: "/x" } }),
  "status 204 with max-age": () => roundTrip({ status: 204, headers: { "cache-control": "max-age=60" } }, null),
  "hop-by-hop headers dropped": () =>
    roundTrip({ headers: { "cache-control": "max-age=60", connection: "x-drop", "x-drop": "1", "keep-alive": "timeout=5", "x-keep": "1" } }),
  "binary body": async () => {
    const url = key();
    await caches.default.put(url, new Response(new Uint8Array([0, 1, 2, 255]), { headers: { "cache-control": "max-age=60" } }));
    return [...new Uint8Array(await (await caches.default.match(url)).arrayBuffer())];
  },
  "streamed body": async () => {
    const url = key();
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("a"));
        c.enqueue(new TextEncoder().encode("b"));
        c.close();
      },
    });
    await caches.default.put(url, new Response(body, { headers: { "cache-control": "max-age=60" } }));
    return seen(await caches.default.match(url));
  },
  "put disturbs the body at once": async () => {
    const url = key();
    const response = new Response("taken", { headers: { "cache-control": "max-age=60" } });
    const put = caches.default.put(url, response);
    const usedAtReturn = response.bodyUsed;
    const read = await response.text().then(
      (text) => `read ${text}`,
      (error) => error.constructor.name,
    );
    await put;
    return { usedAtReturn, read, match: await seen(await caches.default.match(url)) };
  },
  "put replaces": async () => {
    const url = key();
    await caches.default.put(url, new Response("one", { headers: { "cache-control": "max-age=60" } }));
    await caches.default.put(url, new Response("two", { headers: { "cache-control": "max-age=60" } }));
    return seen(await caches.default.match(url));
  },
  "Request keys: string, URL, Request": async () => {
    const url = key("?q=1");
    await caches.default.put(new Request(url), new Response("r", { headers: { "cache-control": "max-age=60" } }));
    return [
      await seen(await caches.default.match(url)),
      await seen(await caches.default.match(new URL(url))),
      await seen(await caches.default.match(new Request(url))),
    ];
  },
  "query is part of the key": async () => {
    const url = key("?a=1");
    await caches.default.put(url, new Response("q", { headers: { "cache-control": "max-age=60" } }));
    return seen(await caches.default.match(url.replace("a=1", "a=2")));
  },
  "fragment is not part of the key": async () => {
    const url = key();
    await caches.default.put(`${url}#x`, new Response("f", { headers: { "cache-control": "max-age=60" } }));
    return seen(await caches.default.match(url));
  },
  "request headers are not part of the key": async () => {
    const url = key();
    await caches.default.put(new Request(url, { headers: { accept: "a" } }), new Response("h", { headers: { "cache-control": "max-age=60", vary: "accept" } }));
    return seen(await caches.default.match(new Request(url, { headers: { accept: "b" } })));
  },
  "match: miss": async () => seen(await caches.default.match(key())),
  "match: non-GET": async () => {
    const url = key();
    await caches.default.put(url, new Response("m", { headers: { "cache-control": "max-age=60" } }));
    return [
      await seen(await caches.default.match(new Request(url, { method: "POST" }))),
      await seen(await caches.default.match(new Request(url, { method: "POST" }), { ignoreMethod: true })),
    ];
  },
  "match: HEAD": async () => {
    const url = key();
    await caches.default.put(url, new Response("m", { headers: { "cache-control": "max-age=60" } }));
    return seen(await caches.default.match(new Request(url, { method: "HEAD" })));
  },
  "match: If-None-Match": async () => {
    const url = key();
    await caches.default.put(url, new Response("e", { headers: { "cache-control": "max-age=60", etag: '"abc"' } }));
    const match = (value) => caches.default.match(new Request(url, { headers: { "if-none-match": value } })).then(seen);
    return [await match('"abc"'), await match('W/"abc"'), await match('"x", "abc"'), await match("*"), await match('"other"')];
  },
  "match: If-Modified-Since": async () => {
    const url = key();
    await caches.default.put(url, new Response("d", { headers: { "cache-control": "max-age=60", "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT" } }));
    const match = (value) => caches.default.match(new Request(url, { headers: { "if-modified-since": value } })).then(seen);
    return [await match("Mon, 01 Jan 2024 00:00:00 GMT"), await match("Sun, 31 Dec 2023 00:00:00 GMT"), await match("not a date")];
  },
  "match: Range": async () => {
    const url = key();
    await caches.default.put(url, new Response("0123456789", { headers: { "cache-control": "max-age=60", "content-type": "text/plain" } }));
    const match = (value) => caches.default.match(new Request(url, { headers: { range: value } })).then(seen);
    return [await match("bytes=2-4"), await match("bytes=7-"), await match("bytes=-3"), await match("bytes=20-30"), await match("bytes=x")];
  },
  "delete: hit and miss": async () => {
    const url = key();
    await caches.default.put(url, new Response("d", { headers: { "cache-control": "max-age=60" } }));
    return [await caches.default.delete(url), await seen(await caches.default.match(url)), await caches.default.delete(url)];
  },
  "delete: non-GET": async () => {
    const url = key();
    await caches.default.put(url, new Response("d", { headers: { "cache-control": "max-age=60" } }));
    return [
      await caches.default.delete(new Request(url, { method: "POST" })),
      await caches.default.delete(new Request(url, { method: "POST" }), { ignoreMethod: true }),
    ];
  },
  "open: separate caches": async () => {
    const url = key();
    const a = await caches.open("a");
    const b = await caches.open("b");
    await a.put(url, new Response("in a", { headers: { "cache-control": "max-age=60" } }));
    return [
      await seen(await a.match(url)),
      await seen(await b.match(url)),
      await seen(await caches.default.match(url)),
      await seen(await (await caches.open("a")).match(url)),
    ];
  },
  "open: names": async () => {
    const kinds = [];
    for (const name of ["", "default", "x".repeat(1000)]) {
      try {
        const cache = await caches.open(name);
        kinds.push(typeof cache.match);
      } catch (error) {
        kinds.push([error.constructor.name, error.message]);
      }
    }
    return kinds;
  },
  "open: default and empty names": async () => {
    const url = key();
    await caches.default.put(url, new Response("d", { headers: { "cache-control": "max-age=60" } }));
    return [await seen(await (await caches.open("default")).match(url)), await seen(await (await caches.open("")).match(url))];
  },
  "unimplemented methods": async () => {
    const out = [];
    for (const call of [
      () => caches.default.keys(),
      () => caches.default.matchAll(),
      () => caches.default.add(key()),
      () => caches.default.addAll([]),
      () => caches.has("a"),
      () => caches.keys(),
      () => caches.delete("a"),
      () => caches.match(key()),
    ]) {
      try {
        out.push(["returned", await call()]);
      } catch (error) {
        out.push([error.constructor.name, error.message]);
      }
    }
    return out;
  },
  "caches.default is one object": () => {
    const first = caches.default;
    return first === caches.default;
  },
  "error: put of a POST request": () => caches.default.put(new Request(key(), { method: "POST" }), new Response("x")),
  "error: put of a 206": () => caches.default.put(key(), new Response("x", { status: 206, headers: { "content-range": "bytes 0-0/2" } })),
  "error: put with Vary: *": () => caches.default.put(key(), new Response("x", { headers: { vary: "*", "cache-control": "max-age=60" } })),
  "error: put of a used body": async () => {
    const response = new Response("x", { headers: { "cache-control": "max-age=60" } });
    await response.text();
    return caches.default.put(key(), response);
  },
  "error: put of a non-Response": () => caches.default.put(key(), "x"),
  "error: relative URL": () => caches.default.put("/relative", new Response("x")),
  "error: non-http URL": () => caches.default.put("ftp://x/y", new Response("x", { headers: { "cache-control": "max-age=60" } })),
  "error: match of a relative URL": () => caches.default.match("/relative"),
  "error: put of a 304": () => caches.default.put(key(), new Response(null, { status: 304, headers: { "cache-control": "max-age=60" } })),
  "error: put of a WebSocket response": () => {
    const pair = new WebSocketPair();
    return caches.default.put(key(), new Response(null, { status: 101, webSocket: pair[0] }));
  },
};
