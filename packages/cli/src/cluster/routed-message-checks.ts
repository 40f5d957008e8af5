/**
 * The checks of the messages that a direct channel and the supervisor's
 * channel both carry: routed calls, their replies and the body messages that
 * stream beside them. These are the hot messages of a cluster (one call and
 * one reply per cross-worker request), so they are checked by hand: a zod
 * parse of a routed call costs several microseconds more per message than
 * these few comparisons, and it would be paid twice on a relayed call.
 * ipc-validation.ts uses them for both channels, and checks the other
 * messages with the same field checks (message-checks.ts), so that each shape
 * is written once.
 */
import { isCount as isSeq, isId, isObject, isObjectKey, isWireError, isWireRefs, optionalString } from "./message-checks.ts";

/** The message types checked here. */
export const ROUTED_TYPES: ReadonlySet<unknown> = new Set(["call", "reply", "body-chunk", "body-end", "body-credit", "body-cancel"]);

const isHeader = (h: unknown): boolean => Array.isArray(h) && h.length === 2 && typeof h[0] === "string" && typeof h[1] === "string";

/** A routed request's head; its body streams beside it (wire.ts: WireBody), never inline. */
function isRequest(v: unknown): boolean {
  if (!isObject(v) || typeof v.method !== "string" || typeof v.url !== "string" || !Array.isArray(v.headers) || !v.headers.every(isHeader)) return false;
  return v.body === null || (isObject(v.body) && isId(v.body.stream));
}

const refsReason = (v: unknown, what: string): string | null => (v === undefined || isWireRefs(v) ? null : `${what} with invalid references`);

function callReason(m: Record<string, unknown>): string | null {
  if (!isId(m.rid)) return "a call without its rid";
  if (!isObjectKey(m.key)) return "a call without a valid key";
  // Every field is checked when present, whatever the op: what the receiver reads is what was checked.
  if (m.request !== undefined && !isRequest(m.request)) return "a routed fetch with an invalid request";
  if (!optionalString(m.method) || !optionalString(m.property)) return "a call whose method or property is not a string";
  if (m.args !== undefined && !Array.isArray(m.args)) return "a call whose args are not an array";
  const refs = refsReason(m.refs, "a call");
  if (refs !== null) return refs;
  switch (m.op) {
    case "fetch":
      return m.request === undefined ? "a routed fetch without its request" : null;
    case "call":
      return m.method === undefined || m.args === undefined ? "a routed call without its method and args" : null;
    case "read":
      return m.property === undefined ? "a routed read without its property" : null;
    default:
      return "a call with an unknown op";
  }
}

function replyReason(m: Record<string, unknown>): string | null {
  if (!isId(m.rid) || typeof m.ok !== "boolean") return "a reply without its rid or ok";
  if (m.error !== undefined && !isWireError(m.error)) return "a reply with an invalid error";
  const refs = refsReason(m.refs, "a reply");
  if (refs !== null) return refs;
  return m.ok || m.error !== undefined ? null : "a failed reply without its error";
}

/**
 * Why `m`, whose `t` is one of ROUTED_TYPES, is not a valid message of its
 * type (null: it is one). `withTo`: on the supervisor's channel, replies and
 * body messages also name the process they go `to` (a call goes to the
 * owner, which the supervisor finds itself).
 */
export function routedMessageReason(m: Record<string, unknown>, withTo: boolean): string | null {
  if (withTo && m.t !== "call" && !isId(m.to)) return `a ${String(m.t)} that names no process to go to`;
  switch (m.t) {
    case "call":
      return callReason(m);
    case "reply":
      return replyReason(m);
    case "body-chunk":
      return isId(m.stream) && isSeq(m.seq) && m.data instanceof Uint8Array ? null : "an invalid body chunk";
    case "body-end":
      return isId(m.stream) && isSeq(m.seq) && (m.error === undefined || isWireError(m.error)) ? null : "an invalid body end";
    case "body-credit":
      return isId(m.stream) && isId(m.bytes) ? null : "an invalid body credit";
    case "body-cancel":
      return isId(m.stream) ? null : "an invalid body cancel";
    default:
      return `not a routed message (${String(m.t)})`;
  }
}
