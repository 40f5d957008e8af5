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
// compat/scripts/observe.ts, then python3 compat/scripts/known.py DOC path...
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
const HIBERNATABLE_NO_AUTO_REPLY = "compatibility.md, WebSockets and hibernation, row 'Close handshake' (says differs): hibernatable sockets get an automatic Close reply; workerd leaves it to the handler";
/** Dropped TCP connection: both call webSocketClose(1006, "WebSocket
 * disconnected without sending Close frame.", false), but there workerd's
 * readyState is 2 (CLOSING) and send() does not throw; Torpor's readyState is
 * 3 (CLOSED) and send() throws. */
const DROPPED_CONNECTION_READYSTATE = "compatibility.md, row 'Dropped connection' (says yes, notes the readyState): readyState 3 in webSocketClose (workerd: 2)";
/** Standard accept() sockets: after the close event workerd fires an error
 * event "Uncaught Error: Network connection lost."; Torpor fires none. (The
 * entry also carries the send()-after-close error class difference.) */
const STANDARD_ERROR_AFTER_CLOSE = "compatibility.md, row 'ws.accept() (standard sockets)': no error event after the close event";
/** A 33 MiB message (over the 32 MiB limit): workerd calls webSocketError
 * with Error "WebSocket protocol error; protocolError.statusCode = 1009;
 * protocolError.description = Message is too large" at readyState 2, no
 * webSocketClose, and the client receives no Close frame; Torpor calls
 * webSocketError with RangeError "Max payload size exceeded" at readyState 1,
 * then webSocketClose(1006, "WebSocket disconnected without sending Close
 * frame.", false), and the client receives Close 1009. */
const OVERSIZED_MESSAGE = "compatibility.md, row 'Largest incoming message' (says differs): how an oversized message is reported";
/** serializeAttachment limit: workerd allows 16,384 bytes serialized (a
 * 16,379-character string); Torpor's default is 2,048
 * (limits.maxAttachmentBytes, up to 16,384). Past the limit both throw
 * workerd's Error with the limit in use. */
const ATTACHMENT_LIMIT = "compatibility.md, row 'ws.serializeAttachment / deserializeAttachment' (says differs): default limit 2,048 bytes; workerd allows 16,384";
/** close(code): workerd accepts every code from 1000 to 4999 except 1004,
 * 1005, 1006 and 1015; Torpor accepts 1000–1003, 1007–1014 and 3000–4999, so
 * 1016–2999 (here 1016 and 2999) are accepted by workerd only; Torpor throws
 * workerd's InvalidAccessError for them. (Both convert the code like WebIDL
 * unsigned short: 1000.5 and "1000" are accepted.) */
const CLOSE_CODE_RANGE = "compatibility.md, row 'ws.close(code, reason)' (says yes, lists 1000–1003, 1007–1014, 3000–4999): workerd also accepts 1016–2999";

interface KnownDifference {
  doc: string;
  /** Path into one scenario's observation; the first element is the scenario. */
  path: (string | number)[];
  workerd: unknown;
  torpor: unknown;
}

// prettier-ignore
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
  { doc: OVERSIZED_MESSAGE, path: ["bigMessages", "33MiB", "closed"], workerd: null, torpor: {"code": 1009, "reason": ""} },
  { doc: OVERSIZED_MESSAGE, path: ["bigMessages", "log", "events"], workerd: [{"gen": 1, "ev": "message", "bigLength": 1048577}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "message", "bigLength": 2097152}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "error", "error": {"ctor": "Error", "name": "Error", "message": "WebSocket protocol error; protocolError.statusCode = 1009; protocolError.description = Message is too large"}, "readyState": 2, "inGetWebSockets": true}], torpor: [{"gen": 1, "ev": "message", "bigLength": 1048577}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "message", "bigLength": 2097152}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "error", "error": {"ctor": "RangeError", "name": "RangeError", "message": "Max payload size exceeded"}, "readyState": 1, "inGetWebSockets": true}, {"gen": 1, "ev": "close", "code": 1006, "reason": "WebSocket disconnected without sending Close frame.", "wasClean": false}] },
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
