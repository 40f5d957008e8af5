// R2 (env.R2): head/get/put/delete/list, ranges, conditional requests, HTTP
// and custom metadata, checksums, multipart uploads and errors, run in order
// on one fresh bucket (GET /r2). Values that depend on time or randomness
// (uploaded, version, upload ids, part etags) are reported by type or
// compared with each other.
import { runCases } from "../worker/capture.js";

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const MiB = 1024 * 1024;

/** An R2Object as plain JSON: every field, time-dependent ones by type. */
function describe(o) {
  if (o === null || o === undefined) return o ?? null;
  const checksums = o.checksums;
  return {
    ctor: o.constructor.name,
    key: o.key,
    version: typeof o.version === "string" && /^[0-9a-f]{32}$/.test(o.version) ? "hex32" : o.version,
    size: o.size,
    etag: o.etag,
    httpEtag: o.httpEtag,
    uploaded: o.uploaded instanceof Date ? "Date" : o.uploaded,
    httpMetadata:
      o.httpMetadata === undefined
        ? "undefined"
        : { ...o.httpMetadata, ...(o.httpMetadata.cacheExpiry ? { cacheExpiry: o.httpMetadata.cacheExpiry.getTime() } : {}) },
    customMetadata: o.customMetadata === undefined ? "undefined" : o.customMetadata,
    range: o.range === undefined ? "undefined" : o.range,
    storageClass: o.storageClass,
    ssecKeyMd5: o.ssecKeyMd5 === undefined ? "undefined" : o.ssecKeyMd5,
    checksums:
      checksums === undefined
        ? "undefined"
        : {
            json: checksums.toJSON(),
            md5: checksums.md5 === undefined ? "undefined" : hex(checksums.md5),
            sha256: checksums.sha256 === undefined ? "undefined" : hex(checksums.sha256),
          },
    hasBody: "body" in o,
    bodyUsed: "body" in o ? o.bodyUsed : "n/a",
  };
}

const text = async (o) => (o === null ? null : { object: describe(o), text: await o.text() });
const names = (list) => ({
  keys: list.objects.map((o) => o.key),
  truncated: list.truncated,
  cursor: typeof list.cursor,
  delimitedPrefixes: list.delimitedPrefixes,
});

export function r2Cases(r2) {
  let etagA;
  return runCases([
    ["putText", async () => describe(await r2.put("a", "hello world"))],
    [
      "headA",
      async () => {
        const o = await r2.head("a");
        etagA = o.etag;
        return describe(o);
      },
    ],
    ["getA", async () => text(await r2.get("a"))],
    ["getMissing", () => r2.get("missing")],
    ["headMissing", () => r2.head("missing")],
    ["putArrayBuffer", async () => describe(await r2.put("ab", new Uint8Array([1, 2, 3]).buffer))],
    ["putView", async () => describe(await r2.put("view", new Uint16Array([1, 2])))],
    ["putBlob", async () => describe(await r2.put("blob", new Blob(["bl", "ob"])))],
    ["putNull", async () => describe(await r2.put("null", null))],
    ["getNull", async () => text(await r2.get("null"))],
    ["putStreamUnknownLength", async () => describe(await r2.put("stream", new Blob(["str"]).stream()))],
    ["putRequestBody", async () => describe(await r2.put("reqbody", new Request("http://x/", { method: "POST", body: "from a request" }).body))],
    ["putResponseBody", async () => describe(await r2.put("resbody", new Response("from a response").body))],
    ["getResBody", async () => text(await r2.get("resbody"))],
    ["putNumber", () => r2.put("num", 5)],
    ["putObject", () => r2.put("obj", { a: 1 })],
    ["putNoValue", () => r2.put("nov")],
    ["putEmptyString", async () => describe(await r2.put("empty", ""))],
    ["getEmpty", async () => text(await r2.get("empty"))],
    // body readers
    [
      "bodyReaders",
      async () => {
        const out = {};
        out.arrayBuffer = hex(await (await r2.get("a")).arrayBuffer());
        out.bytes = [...(await (await r2.get("ab")).bytes())];
        await r2.put("json", '{"j":[1,2]}', { httpMetadata: { contentType: "application/json" } });
        out.json = await (await r2.get("json")).json();
        const blob = await (await r2.get("json")).blob();
        out.blob = { type: blob.type, size: blob.size, ctor: blob.constructor.name };
        const body = await r2.get("a");
        out.bodyIsStream = body.body instanceof ReadableStream;
        out.streamText = await new Response(body.body).text();
        out.bodyUsedAfter = body.bodyUsed;
        try {
          await body.text();
          out.secondRead = "no error";
        } catch (e) {
          out.secondRead = { ctor: e.constructor.name, message: e.message };
        }
        return out;
      },
    ],
    // keys
    ["putKey1024", async () => (await r2.put("k".repeat(1024), "x")).size],
    ["putKey1025", () => r2.put("k".repeat(1025), "x")],
    ["getKey1025", () => r2.get("k".repeat(1025))],
    ["headKey1025", () => r2.head("k".repeat(1025))],
    ["deleteKey1025", () => r2.delete("k".repeat(1025))],
    ["putEmptyKey", async () => describe(await r2.put("", "empty key"))],
    ["getEmptyKey", async () => text(await r2.get(""))],
    ["putUnicodeKey", async () => (await r2.put("dir/\u00e9\u{1f600}.txt", "u")).key],
    ["putNumberKey", async () => (await r2.put(42, "n")).key],
    ["getNoKey", () => r2.get()],
    // http metadata
    [
      "putHttpMetadata",
      async () =>
        describe(
          await r2.put("h", "x", {
            httpMetadata: {
              contentType: "text/plain",
              contentLanguage: "en",
              contentDisposition: "inline",
              contentEncoding: "identity",
              cacheControl: "max-age=60",
              cacheExpiry: new Date(1_700_000_000_000),
            },
          }),
        ),
    ],
    ["getHttpMetadata", async () => describe(await r2.head("h"))],
    [
      "writeHttpMetadata",
      async () => {
        const headers = new Headers({ "x-keep": "1", "content-type": "overwritten/type" });
        (await r2.head("h")).writeHttpMetadata(headers);
        return [...headers];
      },
    ],
    [
      "putHttpMetadataHeaders",
      async () =>
        describe(
          await r2.put("hh", "x", {
            httpMetadata: new Headers({
              "content-type": "image/png",
              "cache-control": "no-store",
              expires: "Wed, 21 Oct 2037 07:28:00 GMT",
              "x-other": "dropped",
            }),
          }),
        ),
    ],
    ["headHttpMetadataHeaders", async () => describe(await r2.head("hh"))],
    ["putHttpMetadataUnknown", async () => describe(await r2.put("hu", "x", { httpMetadata: { contentType: "a/b", unknownField: 1 } }))],
    ["putHttpMetadataBadExpiry", () => r2.put("hb", "x", { httpMetadata: { cacheExpiry: "tomorrow" } })],
    // custom metadata
    ["putCustomMetadata", async () => describe(await r2.put("c", "x", { customMetadata: { owner: "ada", n: 5 } }))],
    ["headCustomMetadata", async () => describe(await r2.head("c"))],
    ["putCustomMetadata2048", async () => (await r2.put("c2", "x", { customMetadata: { k: "v".repeat(2047) } })).size],
    ["putCustomMetadata2049", () => r2.put("c3", "x", { customMetadata: { k: "v".repeat(2048) } })],
    ["putCustomMetadataWide", () => r2.put("c4", "x", { customMetadata: { k: "\u0100".repeat(1024) } })],
    ["putCustomMetadataNotObject", () => r2.put("c5", "x", { customMetadata: "nope" })],
    ["putStorageClass", async () => describe(await r2.put("sc", "x", { storageClass: "InfrequentAccess" }))],
    ["putOptionsNotObject", () => r2.put("o", "x", 5)],
    // checksums
    ["putMd5Hex", async () => describe(await r2.put("m", "hello world", { md5: "5eb63bbbe01eeed093cb22bb8f5acdc3" }))],
    [
      "putMd5Buffer",
      async () =>
        (
          await r2.put("m2", "hello world", {
            md5: new Uint8Array([0x5e, 0xb6, 0x3b, 0xbb, 0xe0, 0x1e, 0xee, 0xd0, 0x93, 0xcb, 0x22, 0xbb, 0x8f, 0x5a, 0xcd, 0xc3]).buffer,
          })
        ).etag,
    ],
    ["putMd5Wrong", () => r2.put("m3", "hello world", { md5: "00000000000000000000000000000000" })],
    ["putMd5Short", () => r2.put("m3", "hello world", { md5: "abc" })],
    ["putMd5NotHex", () => r2.put("m3", "hello world", { md5: "zz".repeat(16) })],
    ["putMd5BufferShort", () => r2.put("m3", "hello world", { md5: new Uint8Array(3) })],
    ["putSha256", async () => describe(await r2.put("s", "hello world", { sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" }))],
    ["putSha256Wrong", () => r2.put("s2", "hello world", { sha256: "0".repeat(64) })],
    ["putSha1", async () => (await r2.put("s3", "hello world", { sha1: "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed" })).checksums.toJSON()],
    [
      "putSha384",
      async () =>
        (
          await r2.put("s4", "hello world", { sha384: "fdbd8e75a67f29f701a4e040385e2e23986303ea10239211af907fcbb83578b3e417cb71ce646efd0819dd8c088de1bd" })
        ).checksums.toJSON(),
    ],
    ["putSha512Wrong", () => r2.put("s5", "x", { sha512: "a".repeat(128) })],
    ["putTwoHashes", () => r2.put("s6", "hello world", { md5: "5eb63bbbe01eeed093cb22bb8f5acdc3", sha1: "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed" })],
    ["headSha256", async () => describe(await r2.head("s"))],
    // ranges
    ["rangeOffsetLength", async () => text(await r2.get("a", { range: { offset: 2, length: 3 } }))],
    ["rangeOffset", async () => text(await r2.get("a", { range: { offset: 6 } }))],
    ["rangeLength", async () => text(await r2.get("a", { range: { length: 5 } }))],
    ["rangeSuffix", async () => text(await r2.get("a", { range: { suffix: 5 } }))],
    ["rangeSuffixTooLong", async () => text(await r2.get("a", { range: { suffix: 100 } }))],
    ["rangeLengthTooLong", async () => text(await r2.get("a", { range: { offset: 8, length: 100 } }))],
    ["rangeOffsetPastEnd", () => r2.get("a", { range: { offset: 100 } })],
    ["rangeOffsetAtEnd", async () => text(await r2.get("a", { range: { offset: 11 } }))],
    ["rangeLengthZero", () => r2.get("a", { range: { offset: 0, length: 0 } })],
    ["rangeSuffixZero", () => r2.get("a", { range: { suffix: 0 } })],
    ["rangeNegativeOffset", () => r2.get("a", { range: { offset: -1 } })],
    ["rangeFractionalLength", () => r2.get("a", { range: { length: 1.5 } })],
    ["rangeSuffixAndOffset", () => r2.get("a", { range: { suffix: 2, offset: 1 } })],
    ["rangeHeader", async () => text(await r2.get("a", { range: new Headers({ range: "bytes=0-4" }) }))],
    ["rangeHeaderSuffix", async () => text(await r2.get("a", { range: new Headers({ range: "bytes=-3" }) }))],
    ["rangeHeaderOpen", async () => text(await r2.get("a", { range: new Headers({ range: "bytes=6-" }) }))],
    ["rangeHeaderMultiple", async () => text(await r2.get("a", { range: new Headers({ range: "bytes=0-1, 3-4" }) }))],
    ["rangeHeaderInvalid", async () => text(await r2.get("a", { range: new Headers({ range: "lines=1-2" }) }))],
    ["rangeHeaderNone", async () => text(await r2.get("a", { range: new Headers() }))],
    ["rangeOnEmpty", () => r2.get("empty", { range: { offset: 0, length: 1 } })],
    // conditional requests
    ["onlyIfEtagMatches", async () => text(await r2.get("a", { onlyIf: { etagMatches: etagA } }))],
    ["onlyIfEtagMatchesFails", async () => describe(await r2.get("a", { onlyIf: { etagMatches: "nope" } }))],
    ["onlyIfEtagDoesNotMatch", async () => describe(await r2.get("a", { onlyIf: { etagDoesNotMatch: etagA } }))],
    ["onlyIfEtagWildcard", async () => text(await r2.get("a", { onlyIf: { etagMatches: "*" } }))],
    ["onlyIfQuotedEtag", () => r2.get("a", { onlyIf: { etagMatches: `"${etagA}"` } })],
    ["onlyIfUploadedBefore", async () => describe(await r2.get("a", { onlyIf: { uploadedBefore: new Date(0) } }))],
    ["onlyIfUploadedAfter", async () => text(await r2.get("a", { onlyIf: { uploadedAfter: new Date(0) } }))],
    ["onlyIfUploadedAfterFuture", async () => describe(await r2.get("a", { onlyIf: { uploadedAfter: new Date(4_000_000_000_000) } }))],
    ["onlyIfHeadersIfMatch", async () => text(await r2.get("a", { onlyIf: new Headers({ "if-match": `"${etagA}"` }) }))],
    ["onlyIfHeadersIfNoneMatch", async () => describe(await r2.get("a", { onlyIf: new Headers({ "if-none-match": `W/"${etagA}"` }) }))],
    ["onlyIfHeadersIfNoneMatchList", async () => describe(await r2.get("a", { onlyIf: new Headers({ "if-none-match": `"x", "${etagA}"` }) }))],
    ["onlyIfHeadersBadEtag", () => r2.get("a", { onlyIf: new Headers({ "if-match": "unquoted" }) })],
    ["onlyIfHeadersUnclosed", () => r2.get("a", { onlyIf: new Headers({ "if-match": '"abc' }) })],
    ["onlyIfHeadersModifiedSince", async () => describe(await r2.get("a", { onlyIf: new Headers({ "if-modified-since": "Wed, 21 Oct 2037 07:28:00 GMT" }) }))],
    ["onlyIfMissingObject", () => r2.get("missing", { onlyIf: { etagMatches: "x" } })],
    ["putOnlyIfFails", () => r2.put("a", "changed", { onlyIf: { etagMatches: "nope" } })],
    ["putOnlyIfMissingKey", () => r2.put("newkey", "v", { onlyIf: { etagMatches: "x" } })],
    ["putOnlyIfDoesNotMatchWildcard", () => r2.put("a", "changed", { onlyIf: { etagDoesNotMatch: "*" } })],
    ["putOnlyIfDoesNotMatchWildcardNew", async () => (await r2.put("created-once", "v", { onlyIf: { etagDoesNotMatch: "*" } })).key],
    ["putOnlyIfPasses", async () => (await r2.put("a", "hello world", { onlyIf: { etagMatches: etagA } })).etag === etagA],
    ["aUnchanged", async () => (await r2.get("a")).text()],
    // delete
    ["delete", () => r2.delete("ab")],
    ["headDeleted", () => r2.head("ab")],
    ["deleteMissing", () => r2.delete("ab")],
    [
      "deleteMany",
      async () => {
        await r2.delete(["view", "blob", "missing"]);
        return [await r2.head("view"), await r2.head("blob")];
      },
    ],
    ["deleteNoKey", () => r2.delete()],
    // list
    [
      "seedList",
      async () => {
        for (const k of ["l/a", "l/b/1", "l/b/2", "l/c", "l/d/x/y", "l/\u00e9", "l/Z", "m"])
          await r2.put(k, k, { httpMetadata: { contentType: "text/plain" }, customMetadata: { k } });
      },
    ],
    ["listPrefix", async () => names(await r2.list({ prefix: "l/" }))],
    ["listObjectsShape", async () => (await r2.list({ prefix: "l/a" })).objects.map(describe)],
    ["listShapeKeys", async () => Object.keys(await r2.list({ prefix: "l/a" }))],
    ["listTruncatedKeys", async () => Object.keys(await r2.list({ prefix: "l/", limit: 1 }))],
    ["listIncludeHttp", async () => (await r2.list({ prefix: "l/a", include: ["httpMetadata"] })).objects.map(describe)],
    ["listIncludeBoth", async () => (await r2.list({ prefix: "l/a", include: ["httpMetadata", "customMetadata"] })).objects.map(describe)],
    ["listIncludeBad", () => r2.list({ include: ["nope"] })],
    ["listDelimiter", async () => names(await r2.list({ prefix: "l/", delimiter: "/" }))],
    ["listDelimiterNoPrefix", async () => names(await r2.list({ delimiter: "/" }))],
    ["listLimit2", async () => names(await r2.list({ prefix: "l/", limit: 2 }))],
    [
      "listCursorWalk",
      async () => {
        const pages = [];
        let cursor;
        do {
          const page = await r2.list({ prefix: "l/", limit: 3, cursor });
          pages.push(page.objects.map((o) => o.key));
          cursor = page.truncated ? page.cursor : undefined;
        } while (cursor !== undefined && pages.length < 10);
        return pages;
      },
    ],
    [
      "listCursorWalkDelimiter",
      async () => {
        const pages = [];
        let cursor;
        do {
          const page = await r2.list({ prefix: "l/", delimiter: "/", limit: 2, cursor });
          pages.push({ keys: page.objects.map((o) => o.key), prefixes: page.delimitedPrefixes });
          cursor = page.truncated ? page.cursor : undefined;
        } while (cursor !== undefined && pages.length < 10);
        return pages;
      },
    ],
    ["listStartAfter", async () => names(await r2.list({ prefix: "l/", startAfter: "l/b/2" }))],
    ["listLimit0", () => r2.list({ limit: 0 })],
    ["listLimit1001", () => r2.list({ limit: 1001 })],
    ["listLimitNegative", async () => names(await r2.list({ prefix: "l/", limit: -1 }))],
    ["listLimitIncludeCapped", async () => (await r2.list({ limit: 1000, include: ["customMetadata"] })).objects.length],
    ["listNotObject", () => r2.list(5)],
    ["listPrefixNumber", () => r2.list({ prefix: 5 })],
    ["listEmptyDelimiter", async () => names(await r2.list({ prefix: "l/b", delimiter: "" }))],
    // multipart
    [
      "multipart",
      async () => {
        const upload = await r2.createMultipartUpload("mp", { httpMetadata: { contentType: "application/octet-stream" }, customMetadata: { part: "yes" } });
        const out = { ctor: upload.constructor.name, key: upload.key, uploadIdType: typeof upload.uploadId };
        const part1 = await upload.uploadPart(1, new Uint8Array(5 * MiB).fill(97));
        const part2 = await upload.uploadPart(2, "tail");
        out.part = { keys: Object.keys(part1), partNumber: part1.partNumber, etagType: typeof part1.etag };
        const done = await upload.complete([part1, part2]);
        out.completed = describe(done);
        const got = await r2.get("mp", { range: { offset: 5 * MiB - 2, length: 6 } });
        out.rangeAcrossParts = { object: describe(got), text: await got.text() };
        out.head = describe(await r2.head("mp"));
        out.abortAfterComplete = await upload.abort().then(
          () => "ok",
          (e) => e.message,
        );
        out.completeAgain = await upload.complete([part1, part2]).then(
          () => "ok",
          (e) => e.message,
        );
        out.uploadAfterComplete = await upload.uploadPart(3, "x").then(
          () => "ok",
          (e) => e.message,
        );
        return out;
      },
    ],
    [
      "multipartSmallPart",
      async () => {
        const upload = await r2.createMultipartUpload("mp-small");
        const p1 = await upload.uploadPart(1, "small");
        const p2 = await upload.uploadPart(2, "tail");
        return upload.complete([p1, p2]);
      },
    ],
    [
      "multipartWrongEtag",
      async () => {
        const upload = await r2.createMultipartUpload("mp-etag");
        await upload.uploadPart(1, "x");
        return upload.complete([{ partNumber: 1, etag: "wrong" }]);
      },
    ],
    [
      "multipartDuplicatePart",
      async () => {
        const upload = await r2.createMultipartUpload("mp-dup");
        const p1 = await upload.uploadPart(1, "x");
        return upload.complete([p1, p1]);
      },
    ],
    [
      "multipartSinglePart",
      async () => {
        const upload = await r2.createMultipartUpload("mp-one");
        const p1 = await upload.uploadPart(1, "only part");
        const done = await upload.complete([p1]);
        return { object: describe(done), text: await (await r2.get("mp-one")).text() };
      },
    ],
    [
      "multipartPartOverwrite",
      async () => {
        const upload = await r2.createMultipartUpload("mp-over");
        const first = await upload.uploadPart(1, "first");
        const second = await upload.uploadPart(1, "second");
        const stale = await upload.complete([first]).then(
          () => "ok",
          (e) => e.message,
        );
        await upload.complete([second]);
        return { sameEtag: first.etag === second.etag, stale, text: await (await r2.get("mp-over")).text() };
      },
    ],
    ["multipartPartNumber0", async () => (await r2.createMultipartUpload("mp-n")).uploadPart(0, "x")],
    ["multipartPartNumber10001", async () => (await r2.createMultipartUpload("mp-n")).uploadPart(10001, "x")],
    [
      "multipartAbort",
      async () => {
        const upload = await r2.createMultipartUpload("mp-abort");
        await upload.uploadPart(1, "x");
        await upload.abort();
        return {
          again: await upload.abort().then(
            () => "ok",
            (e) => e.message,
          ),
          upload: await upload.uploadPart(2, "y").then(
            () => "ok",
            (e) => e.message,
          ),
          complete: await upload.complete([]).then(
            () => "ok",
            (e) => e.message,
          ),
          head: await r2.head("mp-abort"),
        };
      },
    ],
    [
      "multipartResumeUnknown",
      async () => {
        const upload = r2.resumeMultipartUpload("mp-x", "no-such-upload");
        return {
          ctor: upload.constructor.name,
          key: upload.key,
          uploadId: upload.uploadId,
          part: await upload.uploadPart(1, "x").then(
            () => "ok",
            (e) => e.message,
          ),
          abort: await upload.abort().then(
            () => "ok",
            (e) => e.message,
          ),
          complete: await upload.complete([]).then(
            () => "ok",
            (e) => e.message,
          ),
        };
      },
    ],
    [
      "multipartResume",
      async () => {
        const upload = await r2.createMultipartUpload("mp-resume");
        const resumed = r2.resumeMultipartUpload("mp-resume", upload.uploadId);
        const p1 = await resumed.uploadPart(1, "resumed");
        return (await upload.complete([p1])).size;
      },
    ],
    [
      "multipartInvisibleUntilComplete",
      async () => {
        const upload = await r2.createMultipartUpload("mp-hidden");
        await upload.uploadPart(1, "x");
        return { head: await r2.head("mp-hidden"), listed: (await r2.list({ prefix: "mp-hidden" })).objects.length };
      },
    ],
    [
      "multipartCompleteEmpty",
      async () => {
        const done = await (await r2.createMultipartUpload("mp-empty")).complete([]);
        return { object: describe(done), text: await (await r2.get("mp-empty")).text() };
      },
    ],
    [
      "multipartOverwritesObject",
      async () => {
        await r2.put("mp-replace", "plain");
        const upload = await r2.createMultipartUpload("mp-replace");
        const p1 = await upload.uploadPart(1, "multi");
        await upload.complete([p1]);
        return (await r2.get("mp-replace")).text();
      },
    ],
    ["bucketMethods", () => Object.getOwnPropertyNames(Object.getPrototypeOf(r2)).sort()],
  ]);
}
