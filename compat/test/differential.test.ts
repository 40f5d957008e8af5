// Differential test: the same Worker (worker/worker.js) runs on workerd,
// Cloudflare's runtime (through miniflare), and on Torpor; the same scripted
// WebSocket client drives both, and what each observed must be equal, except
// for the known differences listed below.
//
// Slow (starts workerd, ~20 s of scripted sessions), so it is not part of the
// default `pnpm test`: run `pnpm test:compat`.
//
// Each known difference names an item of docs/compatibility.md. An entry
// pins BOTH sides' values exactly: when Torpor is changed to match workerd
// (or a workerd upgrade changes), the entry fails and must be removed or
// updated, so the list never goes stale.
import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { observe, scenarios, startTorpor, startWorkerd, type Target } from "./harness.ts";

// ---- the known differences (docs/compatibility.md) ----------------------------

/** Hibernatable sockets, client closes first: workerd (2026-07-30, with
 * web_socket_auto_reply_to_close on) does NOT auto-reply on a hibernatable
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
 * 16,379-character string; error "A WebSocket 'attachment' cannot be larger
 * than 16384 bytes.'attachment' was 16385 bytes."); Torpor's default is
 * 2,048 (limits.maxAttachmentBytes, up to 16,384). */
const ATTACHMENT_LIMIT = "compatibility.md, row 'ws.serializeAttachment / deserializeAttachment' (says differs): default limit 2,048 bytes; workerd allows 16,384";
/** close(code): workerd accepts every code from 1000 to 4999 except 1004,
 * 1005, 1006 and 1015; Torpor accepts 1000–1003, 1007–1014 and 3000–4999, so
 * 1016–2999 (here 1016 and 2999) are accepted by workerd only. (Both convert
 * the code like WebIDL unsigned short: 1000.5 and "1000" are accepted.) */
const CLOSE_CODE_RANGE = "compatibility.md, row 'ws.close(code, reason)' (says yes, lists 1000–1003, 1007–1014, 3000–4999): workerd also accepts 1016–2999";
/** close(code, reason) with a reason over 123 UTF-8 bytes: workerd accepts
 * it; Torpor throws ERR_CLOSE_REASON_TOO_LONG. */
const CLOSE_REASON_LENGTH = "compatibility.md, row 'ws.close(code, reason)': reasons over 123 bytes throw (workerd accepts them)";
/** Same condition, different error: workerd throws TypeError, Error,
 * InvalidAccessError or DataCloneError with its own messages; Torpor throws
 * TorporError (with a stable `code`, see docs/errors.md) and its own messages
 * (for close() without a code but with a reason, the same message). */
const ERROR_CLASSES_AND_MESSAGES = "compatibility.md, row 'Errors thrown by the WebSocket API' (says differs): TorporError with Torpor's messages, not workerd's classes and texts";

interface KnownDifference {
  doc: string;
  /** Path into one scenario's observation; the first element is the scenario. */
  path: (string | number)[];
  workerd: unknown;
  torpor: unknown;
}

// prettier-ignore
const KNOWN: KnownDifference[] = [
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "eleven", "accepted"], workerd: {"ok": false, "name": "Error", "message": "a Hibernatable WebSocket cannot have more than 10 tags"}, torpor: {"ok": false, "name": "TorporError", "message": "A WebSocket can have at most 10 tags; got 11. Combine tags or keep the extra data in the attachment."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "len257", "accepted"], workerd: {"ok": false, "name": "Error", "message": `"${"y".repeat(257)}" is longer than the max tag length (256 characters).`}, torpor: {"ok": false, "name": "TorporError", "message": "A WebSocket tag is 257 bytes (UTF-8); the limit is 256. Use a shorter tag, such as an id instead of a name."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "utf8Len129", "accepted"], workerd: {"ok": false, "name": "Error", "message": `"${"é".repeat(129)}" is longer than the max tag length (256 characters).`}, torpor: {"ok": false, "name": "TorporError", "message": "A WebSocket tag is 258 bytes (UTF-8); the limit is 256. Use a shorter tag, such as an id instead of a name."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "notArray", "accepted"], workerd: {"ok": false, "name": "TypeError", "message": "Failed to execute 'acceptWebSocket' on 'DurableObjectState': parameter 2 is not of type 'Array'."}, torpor: {"ok": false, "name": "TorporError", "message": "acceptWebSocket() tags must be an array of strings; got string."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "getTagsOfStandard"], workerd: {"ok": false, "name": "Error", "message": "only hibernatable websockets can have tags."}, torpor: {"ok": false, "name": "TorporError", "message": "getTags() takes a WebSocket accepted with this object's ctx.acceptWebSocket()."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "getTagsOfUnaccepted"], workerd: {"ok": false, "name": "Error", "message": "you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket."}, torpor: {"ok": false, "name": "TorporError", "message": "getTags() takes a WebSocket accepted with this object's ctx.acceptWebSocket()."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "acceptWebSocketTwice"], workerd: {"ok": false, "name": "Error", "message": "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`"}, torpor: {"ok": false, "name": "TorporError", "message": "This WebSocket was already accepted. Call either ws.accept() or ctx.acceptWebSocket(ws), once."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "hibernatableAfterStandard"], workerd: {"ok": false, "name": "Error", "message": "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`"}, torpor: {"ok": false, "name": "TorporError", "message": "This WebSocket was already accepted. Call either ws.accept() or ctx.acceptWebSocket(ws), once."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["tags", "body", "standardAfterHibernatable"], workerd: {"ok": false, "name": "TypeError", "message": "Can't accept() WebSocket after enabling hibernation."}, torpor: {"ok": false, "name": "TorporError", "message": "This WebSocket was already accepted. Call either ws.accept() or ctx.acceptWebSocket(ws), once."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["attachments", "body", "function", "set"], workerd: {"ok": false, "name": "DataCloneError", "message": "() => 1 could not be cloned."}, torpor: {"ok": false, "name": "TorporError", "message": "serializeAttachment() takes a structured-cloneable value (objects, arrays, strings, numbers, Map, Date, …); this one is not: () => 1 could not be cloned. Store plain data, not functions, symbols or class instances with behaviour."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["attachments", "body", "symbol", "set"], workerd: {"ok": false, "name": "DataCloneError", "message": "Symbol(s) could not be cloned."}, torpor: {"ok": false, "name": "TorporError", "message": "serializeAttachment() takes a structured-cloneable value (objects, arrays, strings, numbers, Map, Date, …); this one is not: Symbol(s) could not be cloned. Store plain data, not functions, symbols or class instances with behaviour."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "maxStringLength"], workerd: 16379, torpor: 2043 },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "errorJustOver"], workerd: {"ok": false, "name": "Error", "message": "A WebSocket 'attachment' cannot be larger than 16384 bytes.'attachment' was 16385 bytes."}, torpor: {"ok": false, "name": "TorporError", "message": "Attachment is 2,049 bytes serialized; the limit is 2,048. Keep large state in storage and store its key here."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "error2049Bytes"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Attachment is 2,055 bytes serialized; the limit is 2,048. Keep large state in storage and store its key here."} },
  { doc: ATTACHMENT_LIMIT, path: ["attachments", "body", "error4096Chars"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Attachment is 4,101 bytes serialized; the limit is 2,048. Keep large state in storage and store its key here."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "code 999"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 999."}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 999. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "code 1004"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 1004."}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 1004. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "code 1005"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 1005."}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 1005. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "code 1006"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 1006."}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 1006. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "code 1015"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 1015."}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 1015. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: CLOSE_CODE_RANGE, path: ["closeCodes", "body", "code 1016"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 1016. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: CLOSE_CODE_RANGE, path: ["closeCodes", "body", "code 2999"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 2999. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "code 5000"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "Invalid WebSocket close code: 5000."}, torpor: {"ok": false, "name": "TorporError", "message": "Invalid WebSocket close code: 5000. Use 1000 (normal), another code from 1001–1003 or 1007–1014, or an application code from 3000 to 4999."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "reasonWithoutCode"], workerd: {"ok": false, "name": "InvalidAccessError", "message": "If you specify a WebSocket close reason, you must also specify a code."}, torpor: {"ok": false, "name": "TorporError", "message": "If you specify a WebSocket close reason, you must also specify a code."} },
  { doc: CLOSE_REASON_LENGTH, path: ["closeCodes", "body", "reason124Bytes"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Close reason is 124 bytes; a Close frame holds at most 123. Shorten the reason."} },
  { doc: CLOSE_REASON_LENGTH, path: ["closeCodes", "body", "reason62TwoByteChars"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Close reason is 124 bytes; a Close frame holds at most 123. Shorten the reason."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "sendAfterOwnClose"], workerd: {"ok": false, "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, torpor: {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "sendBeforeAccept"], workerd: {"ok": false, "name": "TypeError", "message": "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages."}, torpor: {"ok": false, "name": "TorporError", "message": "This WebSocket was not accepted yet: call ws.accept() or ctx.acceptWebSocket(ws) before send()."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["closeCodes", "body", "closeBeforeAccept"], workerd: {"ok": false, "name": "TypeError", "message": "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages."}, torpor: {"ok": false, "name": "TorporError", "message": "You must call one of accept() or ctx.acceptWebSocket() on this WebSocket before closing it."} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "afterClose"], workerd: "in-close", torpor: null },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "client-bye"} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "log", "events", 0, "view", "readyState"], workerd: 2, torpor: 3 },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientCloses", "log", "events", 0, "sendInClose"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "afterClose"], workerd: "in-close", torpor: null },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "clientSaw", "code"], workerd: 1000, torpor: 4000 },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "clientSaw", "reason"], workerd: "closed-in-handler", torpor: "client-bye" },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "log", "events", 0, "view", "readyState"], workerd: 2, torpor: 3 },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["clientClosesHandlerReplies", "log", "events", 0, "sendInClose"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."} },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientCloses", "log", "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "name": "TypeError", "message": "Can't call WebSocket send() after close()."}}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."}}] },
  { doc: STANDARD_ERROR_AFTER_CLOSE, path: ["standardClientClosesHandlerReplies", "log", "events"], workerd: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, "closeInClose": {"ok": true}, "readyStateAfterClose": 3}, {"gen": 1, "ev": "standard-error", "message": "Uncaught Error: Network connection lost."}], torpor: [{"gen": 1, "ev": "standard-close", "code": 4000, "reason": "client-bye", "wasClean": true, "readyState": 3, "sendInClose": {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."}, "closeInClose": {"ok": true}, "readyStateAfterClose": 3}] },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["serverCloses", "log", "events", 0, "sendAfterClose"], workerd: {"ok": false, "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, torpor: {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."} },
  { doc: ERROR_CLASSES_AND_MESSAGES, path: ["serverCloses", "log", "events", 1, "sendInClose"], workerd: {"ok": false, "name": "TypeError", "message": "Can't call WebSocket send() after close()."}, torpor: {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."} },
  { doc: DROPPED_CONNECTION_READYSTATE, path: ["clientDrops", "log", "events", 0, "view", "readyState"], workerd: 2, torpor: 3 },
  { doc: DROPPED_CONNECTION_READYSTATE, path: ["clientDrops", "log", "events", 0, "sendInClose"], workerd: {"ok": true}, torpor: {"ok": false, "name": "TorporError", "message": "Can't call WebSocket send() after close(): the socket is closing or closed."} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["closeDuringHandler", "clientSaw"], workerd: null, torpor: {"code": 4000, "reason": "bye-mid-handler"} },
  { doc: HIBERNATABLE_NO_AUTO_REPLY, path: ["closeDuringHandler", "log", "events", 2, "readyState"], workerd: 2, torpor: 3 },
  { doc: OVERSIZED_MESSAGE, path: ["bigMessages", "33MiB", "closed"], workerd: null, torpor: {"code": 1009, "reason": ""} },
  { doc: OVERSIZED_MESSAGE, path: ["bigMessages", "log", "events"], workerd: [{"gen": 1, "ev": "message", "bigLength": 1048577}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "message", "bigLength": 2097152}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "error", "error": {"name": "Error", "message": "WebSocket protocol error; protocolError.statusCode = 1009; protocolError.description = Message is too large"}, "readyState": 2}], torpor: [{"gen": 1, "ev": "message", "bigLength": 1048577}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "message", "bigLength": 2097152}, {"gen": 1, "ev": "close", "code": 1000, "reason": "", "wasClean": true}, {"gen": 1, "ev": "error", "error": {"name": "RangeError", "message": "Max payload size exceeded"}, "readyState": 1}, {"gen": 1, "ev": "close", "code": 1006, "reason": "WebSocket disconnected without sending Close frame.", "wasClean": false}] },
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
