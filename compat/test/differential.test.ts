// Differential test: the same Worker (worker/worker.js) runs on workerd,
// Cloudflare's runtime (through miniflare), and on Torpor; the same scripted
// WebSocket client drives both, and what each observed must be equal, except
// for the known differences listed below.
//
// Runs in CI as compat's `test:ci` (part of `pnpm test`); alone with
// `pnpm test:compat`. One workerd and one Torpor serve the whole file.
//
// Errors are compared by constructor, name, message and (DOMException) code.
// Updating the list below: node --conditions=@torpor/source --import tsx
// compat/scripts/observe.ts, then compat/scripts/known.ts DOC path... (same way).
//
// Each known difference names an item of docs/compatibility.md. An entry
// pins BOTH sides' values exactly: when Torpor is changed to match workerd
// (or a workerd upgrade changes), the entry fails and must be removed or
// updated, so the list never goes stale.
import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { observe, scenarios, startTorpor, startWorkerd, type Target } from "./harness.ts";
import { type KnownDifference, maskKnown } from "./known-differences.ts";

// ---- the known differences (docs/compatibility.md) ----------------------------

/** Hibernatable sockets, client closes first, the handler does not close():
 * on both, webSocketClose sees readyState 2 (CLOSING) and send() works (no
 * auto-reply for hibernatable sockets, whatever the compatibility date).
 * workerd then leaves the Close unanswered (the client sees nothing until the
 * object hibernates and the connection drops); Torpor answers it with the
 * client's own code once webSocketClose has returned, so readyState is 3 for
 * a handler still running after it. */
const HIBERNATABLE_UNANSWERED_CLOSE =
  "compatibility.md, WebSockets and hibernation, row 'Close handshake' (says yes, notes the unanswered Close): Torpor answers a Close the handler left unanswered";
/** Standard accept() sockets: after the close event workerd fires an error
 * event "Uncaught Error: Network connection lost."; Torpor fires none. (The
 * entry also carries the send()-after-close error class difference.) */
const STANDARD_ERROR_AFTER_CLOSE = "compatibility.md, row 'ws.accept() (standard sockets)': no error event after the close event";
/** serializeAttachment limit: workerd allows 16,384 bytes serialized (a
 * 16,379-character string); Torpor's default is 2,048
 * (limits.maxAttachmentBytes, up to 16,384). Past the limit both throw
 * workerd's Error with the limit in use. */
const ATTACHMENT_LIMIT =
  "compatibility.md, row 'ws.serializeAttachment / deserializeAttachment' (says differs): default limit 2,048 bytes; workerd allows 16,384";
/** Storage limits: Torpor enforces Cloudflare's documented limits (keys of at
 * most 2,048 bytes, key + value at most 2 MiB, at most 128 keys per get, put
 * or delete) with TorporErrors; local workerd does not enforce them (Cloudflare
 * does, in its storage service). */
const STORAGE_LIMITS = "compatibility.md, row 'ctx.storage KV API' (says differs): Cloudflare's storage limits are enforced; local workerd has none";
/** rowsRead/rowsWritten: both count b-tree operations (workerd in a patched
 * SQLite, Torpor from each statement's EXPLAIN program and the rows it
 * changed: sql-counters.ts). Writes match everywhere checked; reads made
 * inside trigger programs are not counted by Torpor. */
const SQL_TRIGGER_READS = "compatibility.md, row 'ctx.storage.sql' (says differs): reads made by trigger programs are not in rowsRead";
/** A _cf_ table in user SQL: workerd's authorizer names the column ("access to
 * _cf_KV.key is prohibited"); Torpor refuses the statement before it runs,
 * with SQLite's generic "not authorized". Same class and SQLITE_AUTH code. */
const SQL_RESERVED_TABLES = "compatibility.md, row 'ctx.storage.sql' (says differs): _cf_ names refused with 'not authorized: SQLITE_AUTH'";
/** A Worker's request without Accept-Encoding: workerd adds "br, gzip" (it
 * compresses responses itself); Torpor passes the client's headers as they
 * are and compresses nothing. */
const ACCEPT_ENCODING_ADDED = "compatibility.md, row 'fetch, Request, Headers…' (says differs): no Accept-Encoding is added to incoming requests";
/** Outgoing fetch() is Node's (undici): besides what the Worker forwards
 * (the same on both, connection headers dropped), it sends its own accept,
 * accept-language, sec-fetch-mode, user-agent, accept-encoding and
 * connection; workerd sends only accept-encoding. */
const OUTBOUND_FETCH_IS_NODES = "compatibility.md, row 'fetch, Request, Headers…' (says differs): Node's fetch adds its own default headers";

/** idFromString of a well-formed id no namespace made: workerd's ids carry a
 * MAC of their namespace and it refuses the string with a TypeError; Torpor's
 * ids have none, so it accepts it as an id of this namespace. */
const ID_NAMESPACE_MAC =
  "compatibility.md, row 'env.NS.idFromName, idFromString, newUniqueId, get, getByName': well-formed ids made elsewhere are accepted (no namespace MAC)";

// biome-ignore format: one known difference per line
export const KNOWN: KnownDifference[] = [
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "maxStringLength"], workerd: 16379, torpor: 2043 },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "errorJustOver"], workerd: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 16384 bytes.'attachment' was 16385 bytes."}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 2048 bytes.'attachment' was 2049 bytes."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "error2049Bytes"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 2048 bytes.'attachment' was 2055 bytes."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "error4096Chars"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 2048 bytes.'attachment' was 4101 bytes."} },
  { doc: HIBERNATABLE_UNANSWERED_CLOSE, path: ["clientCloses", "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "client-bye"} },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientCloses", "log", "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}] },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientClosesHandlerReplies", "log", "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}] },
  { doc: HIBERNATABLE_UNANSWERED_CLOSE, path: ["closeDuringHandler", "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "bye-mid-handler"} },
  { doc: HIBERNATABLE_UNANSWERED_CLOSE, path: ["closeDuringHandler", "log", "events", 2, "readyState"], workerd: 2, torpor: 3 },
  { doc: HIBERNATABLE_UNANSWERED_CLOSE, path: ["clientCloses@2026-01-01",  "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "client-bye"} },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientClosesHandlerReplies@2026-01-01",  "log",  "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 2, "sendInClose": {"ok": true, "value": {"undefined": true}}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 2, "sendInClose": {"ok": true, "value": {"undefined": true}}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}] },
  { doc: HIBERNATABLE_UNANSWERED_CLOSE, path: ["clientCloses@2026-01-01+auto-reply",  "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "client-bye"} },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientCloses@2026-01-01+auto-reply",  "log",  "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}] },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientClosesHandlerReplies@2026-01-01+auto-reply",  "log",  "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}] },
  { doc: HIBERNATABLE_UNANSWERED_CLOSE, path: ["clientCloses@2026-04-07+manual-reply",  "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "client-bye"} },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientClosesHandlerReplies@2026-04-07+manual-reply",  "log",  "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 2, "sendInClose": {"ok": true, "value": {"undefined": true}}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 2, "sendInClose": {"ok": true, "value": {"undefined": true}}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}] },
  { doc: ACCEPT_ENCODING_ADDED, path: ["hopByHopHeaders", "get", "body", "acceptEncoding"], workerd: "br, gzip", torpor: null },
  { doc: ACCEPT_ENCODING_ADDED, path: ["hopByHopHeaders", "chunked", "body", "acceptEncoding"], workerd: "br, gzip", torpor: null },
  { doc: OUTBOUND_FETCH_IS_NODES, path: ["proxyHopByHop", "chunked", "body", "clientOwn"], workerd: {"accept-encoding": "br, gzip"}, torpor: {"connection": "keep-alive", "accept": "*/*", "accept-language": "*", "sec-fetch-mode": "cors", "user-agent": "node", "accept-encoding": "gzip, deflate"} },
  { doc: OUTBOUND_FETCH_IS_NODES, path: ["proxyHopByHop", "keepAlive", "body", "clientOwn"], workerd: {"accept-encoding": "br, gzip"}, torpor: {"connection": "keep-alive", "accept": "*/*", "accept-language": "*", "sec-fetch-mode": "cors", "user-agent": "node", "accept-encoding": "gzip, deflate"} },
  { doc: OUTBOUND_FETCH_IS_NODES, path: ["proxyHopByHop", "both", "body", "clientOwn"], workerd: {"accept-encoding": "br, gzip"}, torpor: {"connection": "keep-alive", "accept": "*/*", "accept-language": "*", "sec-fetch-mode": "cors", "user-agent": "node", "accept-encoding": "gzip, deflate"} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "putKey2049"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "getKey2049"], workerd: {"ok": true, "promise": true, "value": 1}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "deleteKey2049"], workerd: {"ok": true, "promise": true, "value": true}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "putKey1025TwoByte"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,050 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "putValue2MiB"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key \"big\" and its serialized value are 2,097,162 bytes; the limit is 2,097,152. Split the value across several keys or keep it in SQL rows."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "get129"], workerd: {"ok": true, "promise": true, "value": {"map": []}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "get() was given 129 keys; the limit is 128 per call. Split the call into batches of at most 128."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "put129"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "put() was given 129 keys; the limit is 128 per call. Split the call into batches of at most 128."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "delete129"], workerd: {"ok": true, "promise": true, "value": 1}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "delete() was given 129 keys; the limit is 128 per call. Split the call into batches of at most 128."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "kvPutKey2049"], workerd: {"ok": true, "promise": false, "value": {"undefined": true}}, torpor: {"ok": false, "sync": true, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: SQL_TRIGGER_READS, path: ["sql", "body", "btreeCounters", "value", "insertWithTrigger", 0], workerd: 3, torpor: 1 },
  { doc: SQL_RESERVED_TABLES, path: ["sql", "body", "cfTable"], workerd: {"ok": false, "sync": true, "ctor": "Error", "name": "Error", "message": "access to _cf_KV.key is prohibited: SQLITE_AUTH"}, torpor: {"ok": false, "sync": true, "ctor": "Error", "name": "Error", "message": "not authorized: SQLITE_AUTH"} },
  { doc: ID_NAMESPACE_MAC, path: ["ids", "body", "zeros"], workerd: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Durable Object ID is not valid for this namespace."}, torpor: {"ok": true, "value": {"hexLength": 64, "lowercase": true, "equalsOwn": false, "name": null}} },
  { doc: ID_NAMESPACE_MAC, path: ["ids", "body", "uppercaseA"], workerd: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Durable Object ID is not valid for this namespace."}, torpor: {"ok": true, "value": {"hexLength": 64, "lowercase": true, "equalsOwn": false, "name": null}} },
];

// ---- the test ---------------------------------------------------------------------

/**
 * The close-handshake scenarios again at other compatibility settings, each
 * on its own workerd and Torpor: the compatibility date and flags must change
 * the same things on both. Keys are "<scenario>@<setting>".
 */
const SETTINGS = [
  { name: "2026-01-01", date: "2026-01-01", flags: [] as string[] },
  { name: "2026-01-01+auto-reply", date: "2026-01-01", flags: ["web_socket_auto_reply_to_close"] },
  { name: "2026-04-07+manual-reply", date: "2026-04-07", flags: ["web_socket_manual_reply_to_close"] },
];
const CLOSE_HANDSHAKE = ["standardClientCloses", "standardClientClosesHandlerReplies", "clientCloses"];

let targets: Target[] = [];
const observed: { workerd: Record<string, unknown>; torpor: Record<string, unknown> } = { workerd: {}, torpor: {} };

async function observeAt(date: string, flags: string[], suffix: string, only?: string[]): Promise<void> {
  const pair = await Promise.all([startWorkerd(date, flags), startTorpor(date, flags)]);
  targets.push(...pair);
  const [w, t] = await Promise.all(pair.map((target) => observe(target, only)));
  for (const [name, value] of Object.entries(w!)) observed.workerd[`${name}${suffix}`] = value;
  for (const [name, value] of Object.entries(t!)) observed.torpor[`${name}${suffix}`] = value;
  if (suffix === "") {
    // For reading by eye (and for updating KNOWN): compat/out/*.json.
    const out = new URL("../out/", import.meta.url);
    mkdirSync(out, { recursive: true });
    writeFileSync(new URL("workerd.json", out), JSON.stringify({ observations: w, logs: pair[0].logs }, null, 2));
    writeFileSync(new URL("torpor.json", out), JSON.stringify({ observations: t, logs: pair[1].logs }, null, 2));
  }
}

beforeAll(async () => {
  await observeAt("2026-04-07", [], "");
  for (const setting of SETTINGS) await observeAt(setting.date, setting.flags, `@${setting.name}`, CLOSE_HANDSHAKE);
  // Every run side by side, for compat/scripts/count.ts (matching and differing behaviours).
  writeFileSync(new URL("../out/observed.json", import.meta.url), JSON.stringify(observed, null, 2));
}, 240_000);

afterAll(async () => {
  await Promise.all(targets.map((target) => target.stop()));
  targets = [];
});

function compare(key: string): void {
  const w = structuredClone(observed.workerd[key]);
  const t = structuredClone(observed.torpor[key]);
  expect(w, "workerd run").toBeDefined();
  expect(w, "workerd run").not.toHaveProperty("harnessError");
  expect(t, "torpor run").not.toHaveProperty("harnessError");
  maskKnown(KNOWN, key, w, t);
  expect(t).toEqual(w);
}

describe("the same Worker on workerd and on Torpor", () => {
  for (const scenario of Object.keys(scenarios)) it(scenario, () => compare(scenario));
});

describe("the close handshake at other compatibility dates and flags", () => {
  for (const setting of SETTINGS) for (const scenario of CLOSE_HANDSHAKE) it(`${scenario} at ${setting.name}`, () => compare(`${scenario}@${setting.name}`));
});
