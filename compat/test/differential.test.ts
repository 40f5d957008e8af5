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

// ---- the known differences (docs/compatibility.md) ----------------------------

/** Hibernatable sockets, client closes first: workerd (1.20260730 at
 * compatibility date 2026-04-07, web_socket_auto_reply_to_close on) does NOT auto-reply on a hibernatable
 * socket: in webSocketClose readyState is 2 (CLOSING), send() still works and
 * reaches the client, and the client gets no Close frame until the handler
 * calls close() (then with the handler's code). Torpor auto-replies echoing
 * the client's code: readyState 3, send() throws, and a handler's own close()
 * is a no-op. (Both still list the closing socket in getWebSockets() while
 * webSocketClose runs.) (The flag IS in effect in workerd: standard accept()
 * sockets do auto-reply there; see the standardClientCloses scenario.) */
const HIBERNATABLE_NO_AUTO_REPLY =
  "compatibility.md, WebSockets and hibernation, row 'Close handshake' (says differs): hibernatable sockets get an automatic Close reply; workerd leaves it to the handler";
/** Dropped TCP connection: both call webSocketClose(1006, "WebSocket
 * disconnected without sending Close frame.", false), but there workerd's
 * readyState is 2 (CLOSING) and send() does not throw; Torpor's readyState is
 * 3 (CLOSED) and send() throws. */
const DROPPED_CONNECTION_READYSTATE =
  "compatibility.md, row 'Dropped connection' (says yes, notes the readyState): readyState 3 in webSocketClose (workerd: 2)";
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
/** close(code): workerd accepts every code from 1000 to 4999 except 1004,
 * 1005, 1006 and 1015; Torpor accepts 1000–1003, 1007–1014 and 3000–4999, so
 * 1016–2999 (here 1016 and 2999) are accepted by workerd only; Torpor throws
 * workerd's InvalidAccessError for them. (Both convert the code like WebIDL
 * unsigned short: 1000.5 and "1000" are accepted.) */
const CLOSE_CODE_RANGE = "compatibility.md, row 'ws.close(code, reason)' (says yes, lists 1000–1003, 1007–1014, 3000–4999): workerd also accepts 1016–2999";

/** Storage limits: Torpor enforces Cloudflare's documented limits (keys of at
 * most 2,048 bytes, key + value at most 2 MiB, at most 128 keys per get, put
 * or delete) with TorporErrors; local workerd does not enforce them (Cloudflare
 * does, in its storage service). */
const STORAGE_LIMITS = "compatibility.md, row 'ctx.storage KV API' (says differs): Cloudflare's storage limits are enforced; local workerd has none";
/** rowsRead/rowsWritten: workerd counts b-tree operations in a patched
 * SQLite (index entries, schema rows, seeks); Torpor (better-sqlite3) counts
 * rows returned and rows changed. Equal for plain reads and for inserts,
 * updates and deletes on tables without indexes (rowsWritten tells whether an
 * UPDATE matched); DDL counts as no write. */
const SQL_COUNTERS = "compatibility.md, row 'ctx.storage.sql' (says differs): rowsRead/rowsWritten approximate workerd's b-tree counts";
/** A _cf_ table in user SQL: workerd's authorizer names the column ("access to
 * _cf_KV.key is prohibited"); Torpor refuses the statement before it runs,
 * with SQLite's generic "not authorized". Same class and SQLITE_AUTH code. */
const SQL_RESERVED_TABLES = "compatibility.md, row 'ctx.storage.sql' (says differs): _cf_ names refused with 'not authorized: SQLITE_AUTH'";
/** A 101 with a WebSocket to a request without Upgrade: both answer 500 and
 * raise the same TypeError; miniflare's development body shows the error,
 * Torpor's body is its JSON internal error (the TypeError goes to the log). */
const UPGRADE_ERROR_BODY = "compatibility.md, row 'Response with status 101 and webSocket': the 500's body is Torpor's JSON error";

/** idFromString of a well-formed id no namespace made: workerd's ids carry a
 * MAC of their namespace and it refuses the string with a TypeError; Torpor's
 * ids have none, so it accepts it as an id of this namespace. */
const ID_NAMESPACE_MAC =
  "compatibility.md, row 'env.NS.idFromName, idFromString, newUniqueId, get, getByName': well-formed ids made elsewhere are accepted (no namespace MAC)";

interface KnownDifference {
  doc: string;
  /** Path into one scenario's observation; the first element is the scenario. */
  path: (string | number)[];
  workerd: unknown;
  torpor: unknown;
}

// biome-ignore format: one known difference per line
const KNOWN: KnownDifference[] = [
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "maxStringLength"], workerd: 16379, torpor: 2043 },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "errorJustOver"], workerd: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 16384 bytes.'attachment' was 16385 bytes."}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 2048 bytes.'attachment' was 2049 bytes."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "error2049Bytes"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 2048 bytes.'attachment' was 2055 bytes."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "error4096Chars"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 2048 bytes.'attachment' was 4101 bytes."} },
  { doc: CLOSE_CODE_RANGE, path: ["closeCodes", "body", "code 1016"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "DOMException", "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 1016.", "code": 15} },
  { doc: CLOSE_CODE_RANGE, path: ["closeCodes", "body", "code 2999"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "DOMException", "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 2999.", "code": 15} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "afterClose"], workerd: "in-close", torpor: null },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "client-bye"} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "log", "events", 0, "view", "readyState"], workerd: 2, torpor: 3 },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "log", "events", 0, "sendInClose"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "afterClose"], workerd: "in-close", torpor: null },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "clientSaw", "code"], workerd: 1000, torpor: 4000 },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "clientSaw", "reason"], workerd: "closed-in-handler", torpor: "client-bye" },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "log", "events", 0, "view", "readyState"], workerd: 2, torpor: 3 },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "log", "events", 0, "sendInClose"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."} },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientCloses", "log", "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}] },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientClosesHandlerReplies", "log", "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true, "value": {"undefined": true}}, "readyStateAfterClose": 3}] },
  { doc: DROPPED_CONNECTION_READYSTATE, path: ["clientDrops", "log", "events", 0, "view", "readyState"], workerd: 2, torpor: 3 },
  { doc: DROPPED_CONNECTION_READYSTATE, path: ["clientDrops", "log", "events", 0, "sendInClose"], workerd: {"ok": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Can't call WebSocket send() after close()."} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["closeDuringHandler", "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "bye-mid-handler"} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["closeDuringHandler", "log", "events", 2, "readyState"], workerd: 2, torpor: 3 },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "putKey2049"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "getKey2049"], workerd: {"ok": true, "promise": true, "value": 1}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "deleteKey2049"], workerd: {"ok": true, "promise": true, "value": true}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "putKey1025TwoByte"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,050 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "putValue2MiB"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "Key \"big\" and its serialized value are 2,097,162 bytes; the limit is 2,097,152. Split the value across several keys or keep it in SQL rows."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "get129"], workerd: {"ok": true, "promise": true, "value": {"map": []}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "get() was given 129 keys; the limit is 128 per call. Split the call into batches of at most 128."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "put129"], workerd: {"ok": true, "promise": true, "value": {"undefined": true}}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "put() was given 129 keys; the limit is 128 per call. Split the call into batches of at most 128."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "delete129"], workerd: {"ok": true, "promise": true, "value": 1}, torpor: {"ok": false, "ctor": "TorporError", "name": "TorporError", "message": "delete() was given 129 keys; the limit is 128 per call. Split the call into batches of at most 128."} },
  { doc: STORAGE_LIMITS, path: ["kv", "body", "kvPutKey2049"], workerd: {"ok": true, "promise": false, "value": {"undefined": true}}, torpor: {"ok": false, "sync": true, "ctor": "TorporError", "name": "TorporError", "message": "Key is 2,049 bytes; the limit is 2,048. Use a shorter key or a hash of it."} },
  { doc: SQL_COUNTERS, path: ["sql", "body", "createTable"], workerd: {"ok": true, "promise": false, "value": {"rows": [], "columnNames": [], "wrote": true}}, torpor: {"ok": true, "promise": false, "value": {"rows": [], "columnNames": [], "wrote": false}} },
  { doc: SQL_COUNTERS, path: ["sql", "body", "createIndex"], workerd: {"ok": true, "promise": false, "value": {"rows": [], "columnNames": [], "wrote": true}}, torpor: {"ok": true, "promise": false, "value": {"rows": [], "columnNames": [], "wrote": false}} },
  { doc: SQL_COUNTERS, path: ["sql", "body", "counters"], workerd: {"ok": true, "promise": false, "value": {"createTable": [1, 2], "insert3": [0, 3], "selectAll": [3, 0], "selectById": [1, 0], "update2": [3, 2], "updateNone": [3, 0], "delete1": [1, 1], "selectConstant": [0, 0]}}, torpor: {"ok": true, "promise": false, "value": {"createTable": [0, 0], "insert3": [3, 3], "selectAll": [3, 0], "selectById": [1, 0], "update2": [2, 2], "updateNone": [0, 0], "delete1": [1, 1], "selectConstant": [1, 0]}} },
  { doc: SQL_RESERVED_TABLES, path: ["sql", "body", "cfTable"], workerd: {"ok": false, "sync": true, "ctor": "Error", "name": "Error", "message": "access to _cf_KV.key is prohibited: SQLITE_AUTH"}, torpor: {"ok": false, "sync": true, "ctor": "Error", "name": "Error", "message": "not authorized: SQLITE_AUTH"} },
  { doc: ID_NAMESPACE_MAC, path: ["ids", "body", "zeros"], workerd: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Durable Object ID is not valid for this namespace."}, torpor: {"ok": true, "value": {"hexLength": 64, "lowercase": true, "equalsOwn": false, "name": null}} },
  { doc: ID_NAMESPACE_MAC, path: ["ids", "body", "uppercaseA"], workerd: {"ok": false, "ctor": "TypeError", "name": "TypeError", "message": "Durable Object ID is not valid for this namespace."}, torpor: {"ok": true, "value": {"hexLength": 64, "lowercase": true, "equalsOwn": false, "name": null}} },
  { doc: UPGRADE_ERROR_BODY, path: ["upgradeWithoutUpgradeHeader", "firstLine"], workerd: "TypeError: Worker tried to return a WebSocket in a response to a request which did not contain the header \"Upgrade: websocket\".", torpor: "{\"error\":{\"code\":\"ERR_INTERNAL\",\"message\":\"Internal Server Error\"}}" },
];

// ---- the test ---------------------------------------------------------------------

function at(value: unknown, path: (string | number)[]): unknown {
  let v = value as Record<string | number, unknown> | undefined;
  for (const key of path) v = v?.[key] as Record<string | number, unknown> | undefined;
  return v;
}

function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): void {
  const parent = at(value, path.slice(0, -1)) as Record<string | number, unknown> | undefined;
  if (parent !== undefined && parent !== null) parent[path.at(-1)!] = replacement;
}

let workerd: Target;
let torpor: Target;
const observed: { workerd: Record<string, unknown>; torpor: Record<string, unknown> } = { workerd: {}, torpor: {} };

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerd(), startTorpor()]);
  [observed.workerd, observed.torpor] = await Promise.all([observe(workerd), observe(torpor)]);
  // For reading by eye (and for updating KNOWN): compat/out/*.json.
  const out = new URL("../out/", import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL("workerd.json", out), JSON.stringify({ observations: observed.workerd, logs: workerd.logs }, null, 2));
  writeFileSync(new URL("torpor.json", out), JSON.stringify({ observations: observed.torpor, logs: torpor.logs }, null, 2));
}, 180_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

describe("the same Worker on workerd and on Torpor", () => {
  for (const scenario of Object.keys(scenarios)) {
    it(scenario, () => {
      const w = structuredClone(observed.workerd[scenario]);
      const t = structuredClone(observed.torpor[scenario]);
      expect(w, "workerd run").not.toHaveProperty("harnessError");
      expect(t, "torpor run").not.toHaveProperty("harnessError");
      for (const known of KNOWN.filter((k) => k.path[0] === scenario)) {
        const rest = known.path.slice(1);
        const where = `${known.path.join(".")} (${known.doc})`;
        expect(at(w, rest), `workerd at ${where}: update or remove the KNOWN entry`).toEqual(known.workerd);
        expect(at(t, rest), `torpor at ${where}: update or remove the KNOWN entry`).toEqual(known.torpor);
        replaceAt(w, rest, `<known: ${known.doc}>`);
        replaceAt(t, rest, `<known: ${known.doc}>`);
      }
      expect(t).toEqual(w);
    });
  }
});
