// KV (env.KV): every method, its options, types, limits and errors, run in
// order on one fresh namespace (GET /kv). Expiry itself is not observed here
// (its minimum is 60 s); the bindings package's tests move a clock instead.
import { runCases } from "../worker/capture.js";

const text = (stream) => new Response(stream).text();
const bytes = (n, fill = 120) => new Uint8Array(n).fill(fill);
/** A fixed expiration (2033), so both runtimes report the same number. */
const LATER = 2_000_000_000;

/** Runs `fn`; an error's message has the current time in seconds replaced, so it compares across runs. */
async function withoutNow(fn) {
  try {
    return await fn();
  } catch (error) {
    const now = Math.floor(Date.now() / 1000);
    const scrubbed = error.message.replace(/\d{10}/g, (n) =>
      Math.abs(Number(n) - now) < 600 ? `<now${Number(n) - now >= 0 ? "+" : ""}${Math.round((Number(n) - now) / 10) * 10}>` : n,
    );
    throw new error.constructor(scrubbed);
  }
}

/** A list result without its timing-dependent parts (expirations become "set"). */
function listed(result) {
  return {
    ...result,
    keys: result.keys.map((k) => ({ ...k, ...(k.expiration !== undefined ? { expiration: typeof k.expiration } : {}) })),
    ...(result.cursor !== undefined ? { cursor: typeof result.cursor } : {}),
  };
}

export function kvCases(kv) {
  return runCases([
    // put / get, one key
    ["put", () => kv.put("a", "one")],
    ["get", () => kv.get("a")],
    ["getMissing", () => kv.get("missing")],
    ["getText", () => kv.get("a", "text")],
    ["getJsonOfText", () => kv.get("a", "json")],
    ["putJson", () => kv.put("j", JSON.stringify({ x: [1, "two"] }))],
    ["getJson", () => kv.get("j", "json")],
    ["getJsonOptions", () => kv.get("j", { type: "json" })],
    ["getArrayBuffer", () => kv.get("a", "arrayBuffer")],
    [
      "getStream",
      async () => {
        const s = await kv.get("a", "stream");
        return { isStream: s instanceof ReadableStream, text: await text(s) };
      },
    ],
    ["getStreamMissing", () => kv.get("missing", "stream")],
    ["getBadType", () => kv.get("a", "blob")],
    ["getBadTypeOption", () => kv.get("a", { type: "blob" })],
    ["getCacheTtl", () => kv.get("a", { cacheTtl: 60 })],
    ["getCacheTtl30", () => kv.get("a", { cacheTtl: 30 })],
    ["getCacheTtl29", () => kv.get("a", { cacheTtl: 29 })],
    ["getCacheTtlString", () => kv.get("a", { cacheTtl: "120" })],
    ["getCacheTtlNegative", () => kv.get("a", { cacheTtl: -1 })],
    ["getOptionsNull", () => kv.get("a", null)],
    ["getOptionsNumber", () => kv.get("a", 5)],
    // values of every accepted type
    ["putArrayBuffer", () => kv.put("ab", new Uint8Array([1, 2, 255]).buffer)],
    ["getArrayBufferBack", () => kv.get("ab", "arrayBuffer")],
    ["putView", () => kv.put("view", new Uint16Array([1, 2]))],
    ["getViewBack", () => kv.get("view", "arrayBuffer")],
    ["putDataView", () => kv.put("dv", new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2))],
    ["getDataViewBack", () => kv.get("dv", "arrayBuffer")],
    ["putStream", () => kv.put("st", new Blob(["str", "eam"]).stream())],
    ["getStreamBack", () => kv.get("st")],
    ["putUtf8", () => kv.put("utf8", "h\u00e9llo \u{1f600}")],
    ["getUtf8", () => kv.get("utf8")],
    ["getUtf8Bytes", () => kv.get("utf8", "arrayBuffer")],
    ["putInvalidUtf8", () => kv.put("bad8", new Uint8Array([0xff, 0xfe, 0x41]))],
    ["getInvalidUtf8AsText", () => kv.get("bad8")],
    ["putEmpty", () => kv.put("empty", "")],
    ["getEmpty", () => kv.get("empty")],
    ["getEmptyWithMetadata", () => kv.getWithMetadata("empty")],
    ["putNumber", () => kv.put("num", 42)],
    ["getNumber", () => kv.get("num")],
    ["putObject", () => kv.put("obj", { a: 1 })],
    ["putNull", () => kv.put("nul", null)],
    ["getNull", () => kv.get("nul")],
    ["putUndefined", () => kv.put("und", undefined)],
    ["getUndefined", () => kv.get("und")],
    ["putBoolean", () => kv.put("bool", true)],
    ["getBoolean", () => kv.get("bool")],
    ["putBlob", () => kv.put("blob", new Blob(["x"]))],
    ["putNoValue", () => kv.put("nov")],
    // keys
    ["putEmptyKey", () => kv.put("", "x")],
    ["getEmptyKey", () => kv.get("")],
    ["deleteEmptyKey", () => kv.delete("")],
    ["putDotKey", () => kv.put(".", "x")],
    ["getDotDotKey", () => kv.get("..")],
    ["putKey512", () => kv.put("k".repeat(512), "x")],
    ["getKey512", () => kv.get("k".repeat(512))],
    ["putKey513", () => kv.put("k".repeat(513), "x")],
    ["getKey513", () => kv.get("k".repeat(513))],
    ["deleteKey513", () => kv.delete("k".repeat(513))],
    ["putKey257TwoByte", () => kv.put("\u00e9".repeat(257), "x")],
    ["putNumberKey", () => kv.put(7, "seven")],
    ["getNumberKeyAsString", () => kv.get("7")],
    ["putSlashKey", () => kv.put("a/b?c#d%20e f", "slashy")],
    ["getSlashKey", () => kv.get("a/b?c#d%20e f")],
    ["putUnicodeKey", () => kv.put("\u{1f600}/\u00e9", "uni")],
    ["getUnicodeKey", () => kv.get("\u{1f600}/\u00e9")],
    ["getNoKey", () => kv.get()],
    ["getNumberKey", () => kv.get(7)],
    ["getNullKey", () => kv.get(null)],
    ["getObjectKey", () => kv.get({ toString: () => "7" })],
    ["deleteNoKey", () => kv.delete()],
    ["getMissingBadType", () => kv.get("missing", "blob")],
    ["getWithMetadataMissingBadType", () => kv.getWithMetadata("missing", "blob")],
    ["getCacheTtlInfinity", () => kv.get("a", { cacheTtl: Number.POSITIVE_INFINITY })],
    ["getCacheTtlText", () => kv.get("a", { cacheTtl: "abc" })],
    // values: size
    ["putValue25MiB", () => kv.put("big", bytes(25 * 1024 * 1024))],
    ["getValue25MiBLength", async () => (await kv.get("big", "arrayBuffer")).byteLength],
    ["putValueOver25MiB", () => kv.put("big2", bytes(25 * 1024 * 1024 + 1))],
    ["putStringOver25MiB", () => kv.put("big3", "y".repeat(25 * 1024 * 1024 + 1))],
    ["getAfterTooBig", () => kv.get("big2")],
    ["deleteBig", () => kv.delete("big")],
    // metadata
    ["putMetadata", () => kv.put("m", "v", { metadata: { owner: "x", n: [1, 2] } })],
    ["getWithMetadata", () => kv.getWithMetadata("m")],
    ["getWithMetadataJson", () => kv.getWithMetadata("j", "json")],
    ["getWithMetadataOptions", () => kv.getWithMetadata("j", { type: "json", cacheTtl: 60 })],
    ["getWithMetadataNone", () => kv.getWithMetadata("a")],
    ["getWithMetadataMissing", () => kv.getWithMetadata("missing")],
    [
      "getWithMetadataStream",
      async () => {
        const r = await kv.getWithMetadata("m", "stream");
        return { keys: Object.keys(r), text: await text(r.value), metadata: r.metadata };
      },
    ],
    ["putMetadataString", () => kv.put("ms", "v", { metadata: "just a string" })],
    ["getMetadataString", () => kv.getWithMetadata("ms")],
    ["putMetadataNull", () => kv.put("mn", "v", { metadata: null })],
    ["getMetadataNull", () => kv.getWithMetadata("mn")],
    ["putMetadataNumber", () => kv.put("mnum", "v", { metadata: 5 })],
    ["getMetadataNumber", () => kv.getWithMetadata("mnum")],
    ["putMetadataUndefinedField", () => kv.put("mu", "v", { metadata: { a: undefined, b: 1 } })],
    ["getMetadataUndefinedField", () => kv.getWithMetadata("mu")],
    ["putMetadata1024", () => kv.put("m1", "v", { metadata: "z".repeat(1022) })],
    ["putMetadata1025", () => kv.put("m2", "v", { metadata: "z".repeat(1023) })],
    ["putMetadataFunction", () => kv.put("mf", "v", { metadata: () => 1 })],
    ["putMetadataBigInt", () => kv.put("mb", "v", { metadata: 1n })],
    [
      "putMetadataCycle",
      () => {
        const o = {};
        o.self = o;
        return kv.put("mc", "v", { metadata: o });
      },
    ],
    [
      "overwriteDropsMetadata",
      async () => {
        await kv.put("m", "v2");
        return kv.getWithMetadata("m");
      },
    ],
    // expiration
    ["putExpirationTtl", () => kv.put("e1", "v", { expirationTtl: 3600 })],
    ["getExpirationTtl", () => kv.get("e1")],
    ["putExpiration", () => kv.put("e2", "v", { expiration: LATER })],
    ["putExpirationTtl59", () => kv.put("e3", "v", { expirationTtl: 59 })],
    ["putExpirationTtl60", () => kv.put("e4", "v", { expirationTtl: 60 })],
    ["putExpirationTtl0", () => kv.put("e5", "v", { expirationTtl: 0 })],
    ["putExpirationTtlNegative", () => kv.put("e5", "v", { expirationTtl: -5 })],
    ["putExpirationTtlFraction", () => kv.put("e6", "v", { expirationTtl: 90.7 })],
    ["putExpirationTtlString", () => kv.put("e7", "v", { expirationTtl: "120" })],
    ["putExpirationTtlNaN", () => kv.put("e7", "v", { expirationTtl: Number.NaN })],
    ["putExpirationTtlHuge", () => kv.put("e7", "v", { expirationTtl: 2 ** 53 })],
    ["putExpirationPast", () => kv.put("e8", "v", { expiration: 1000 })],
    ["putExpirationSoon", () => withoutNow(() => kv.put("e8", "v", { expiration: Math.floor(Date.now() / 1000) + 30 }))],
    ["putExpirationString", () => kv.put("e8", "v", { expiration: "abc" })],
    ["putExpirationAndTtl", () => kv.put("e9", "v", { expiration: LATER, expirationTtl: 7200 })],
    ["putExpirationNull", () => kv.put("e10", "v", { expiration: null, expirationTtl: null })],
    ["putOptionsNull", () => kv.put("e11", "v", null)],
    ["putOptionsNumber", () => kv.put("e11", "v", 5)],
    ["putUnknownOption", () => kv.put("e12", "v", { foo: 1 })],
    // delete
    ["delete", () => kv.delete("a")],
    ["getDeleted", () => kv.get("a")],
    ["deleteMissing", () => kv.delete("a")],
    ["deleteArray", () => kv.delete(["j", "ms"])],
    // bulk get
    [
      "seedBulk",
      async () => {
        await kv.put("b1", "one", { metadata: { i: 1 } });
        await kv.put("b2", '{"two":2}');
      },
    ],
    ["getBulk", () => kv.get(["b1", "b2", "missing"])],
    ["getBulkJsonOfText", () => kv.get(["b1", "b2"], "json")],
    ["getBulkJson", () => kv.get(["b2"], "json")],
    ["getBulkArrayBuffer", () => kv.get(["b1"], "arrayBuffer")],
    ["getBulkStream", () => kv.get(["b1"], "stream")],
    ["getBulkWithMetadata", () => kv.getWithMetadata(["b1", "b2", "missing"])],
    ["getBulkEmpty", () => kv.get([])],
    ["getBulk100", () => kv.get(Array.from({ length: 100 }, (_, i) => `x${i}`)).then((m) => m.size)],
    ["getBulk101", () => kv.get(Array.from({ length: 101 }, (_, i) => `x${i}`))],
    ["getBulkDuplicate", () => kv.get(["b1", "b1"])],
    ["getBulkIndexKeys", () => kv.get(["b1", "7", "0", "-1", "1.5"])],
    ["getBulkNotStrings", () => kv.get(["b1", 7])],
    ["getBulkDotKey", () => kv.get([".."])],
    ["getBulkEmptyKey", () => kv.get(["b1", ""])],
    ["getBulkLongKey", () => kv.get(["k".repeat(513)])],
    ["getBulkCacheTtl29", () => kv.get(["b1"], { cacheTtl: 29 })],
    // list
    [
      "seedList",
      async () => {
        for (const k of ["l:c", "l:a", "l:b", "l:\u00e9", "l:Z", "m:a"])
          await kv.put(k, "v", k === "l:a" ? { metadata: { m: 1 } } : k === "l:b" ? { expiration: LATER } : undefined);
      },
    ],
    ["listPrefix", async () => listed(await kv.list({ prefix: "l:" }))],
    ["listAllNames", async () => (await kv.list()).keys.map((k) => k.name)],
    ["listNoArgsShape", async () => Object.keys(await kv.list())],
    ["listLimit2", async () => listed(await kv.list({ prefix: "l:", limit: 2 }))],
    [
      "listCursorWalk",
      async () => {
        const pages = [];
        let cursor;
        do {
          const page = await kv.list({ prefix: "l:", limit: 2, cursor });
          pages.push(page.keys.map((k) => k.name));
          cursor = page.list_complete ? undefined : page.cursor;
        } while (cursor !== undefined && pages.length < 10);
        return pages;
      },
    ],
    ["listLimit0", async () => listed(await kv.list({ prefix: "m:", limit: 0 }))],
    ["listLimit1000", async () => (await kv.list({ prefix: "m:", limit: 1000 })).keys.length],
    ["listLimit1001", () => kv.list({ limit: 1001 })],
    ["listLimitNegative", async () => (await kv.list({ limit: -1 })).keys.map((k) => k.name)],
    ["listLimitText", async () => (await kv.list({ limit: "abc" })).keys.length > 1],
    [
      "listExpirations",
      async () => (await kv.list({ prefix: "e" })).keys.map((k) => ({ name: k.name, expiration: k.expiration === LATER ? "LATER" : typeof k.expiration })),
    ],
    ["listLimitString", async () => listed(await kv.list({ prefix: "m:", limit: "1" }))],
    ["listLimitFraction", async () => listed(await kv.list({ prefix: "l:", limit: 1.5 }))],
    ["listPrefixNull", async () => (await kv.list({ prefix: null })).keys.length > 0],
    ["listPrefixLong", () => kv.list({ prefix: "p".repeat(513) })],
    ["listBadCursor", () => kv.list({ cursor: "not-a-cursor" })],
    ["listEmptyCursor", async () => (await kv.list({ prefix: "m:", cursor: "" })).keys.length],
    ["listNotObject", () => kv.list(5)],
    ["listNull", async () => (await kv.list(null)).keys.length > 0],
    ["listNoMatch", async () => listed(await kv.list({ prefix: "nothing" }))],
  ]);
}
