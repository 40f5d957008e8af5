/**
 * Checks every message a worker sends before the supervisor acts on it, and
 * every message a worker receives on a direct channel from another
 * (worker-channels.ts) before it acts on it: the same checks for the messages
 * both carry (routed calls, replies, body messages). The Worker's own code
 * runs in the worker process and can call `process.send`, or write to a
 * channel's socket, with anything; a malformed message (or a bug) must cost at
 * most that message, never the receiving process and with it its objects.
 * Envelopes are checked exactly (types, integer ranges, a 64-hex id for a
 * routed call's object); payloads that only the receiving worker reads (RPC
 * values, metrics) are passed on as they are. The routed messages, the hot
 * ones, are checked by routed-message-checks.ts; the rest by their shapes
 * here, from the same field checks (message-checks.ts), with no schema library.
 */
import type { FromWorker } from "./ipc.ts";
import {
  arrayOf,
  isAnything,
  isBoolean,
  isBytes,
  isCount,
  isId,
  isInteger,
  isNumber,
  isObject,
  isObjectKey,
  isRecord,
  isString,
  isWireError,
  oneOf,
  optional,
  type Shape,
  shaped,
  shapeReason,
} from "./message-checks.ts";
import { REFERENCE_SHAPES } from "./reference-messages.ts";
import { ROUTED_TYPES, routedMessageReason } from "./routed-message-checks.ts";
import type { ChannelMessage } from "./worker-channels.ts";

const headerValue = (v: unknown) => v === undefined || typeof v === "string" || (Array.isArray(v) && v.every(isString));
const upgradeHead = shaped({ method: isString, url: isString, headers: (v) => isRecord(v) && Object.values(v).every(headerValue) });
const moved = shaped({
  key: isObjectKey,
  tags: (v) => v === null || arrayOf(isString)(v),
  autoResponseAt: isNumber,
  protocol: isString,
  unparsed: isBytes,
});
const slots = arrayOf((v) => isInteger(v) && (v as number) >= 0 && (v as number) <= 255);
const healthCheck = shaped({ name: oneOf("lock", "workers", "storage"), ok: isBoolean, detail: isString });

/** What a worker sends its supervisor, by type, but for the routed messages (ROUTED_TYPES), checked by hand. */
const SHAPES: Readonly<Record<string, Shape>> = {
  ready: { moves: optional(isBoolean) },
  failed: { error: isWireError },
  ...REFERENCE_SHAPES,
  upgrade: { to: isId, token: isId, req: upgradeHead, head: isBytes },
  abandon: { to: isId, token: isId },
  socket: { moved },
  sockets: { moved: arrayOf(moved) },
  "auto-response": { key: isObjectKey, request: isString, response: isString },
  released: { slots, sockets: isCount, closed: isCount },
  "moved-in-reply": { rid: isId },
  "stats-reply": { rid: isId, metrics: isAnything, objects: Array.isArray },
  "hibernate-reply": { rid: isId, status: isInteger },
  drained: { rid: isId, objects: isCount },
  "health-reply": { rid: isId, checks: arrayOf(healthCheck) },
  imports: { urls: arrayOf(isString) },
  "backup-reply": { rid: isId, ok: isBoolean, objects: optional(isCount), bytes: optional(isCount), error: optional(isString) },
};

type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

/** The message if it is one a worker may send, else the reason it is not. */
export function parseFromWorker(message: unknown): Parsed<FromWorker> {
  if (!isObject(message)) return { ok: false, reason: "(message): not an object" };
  if (ROUTED_TYPES.has(message.t)) {
    const reason = routedMessageReason(message, true);
    return reason === null ? { ok: true, message: message as FromWorker } : { ok: false, reason };
  }
  const shape = typeof message.t === "string" && Object.hasOwn(SHAPES, message.t) ? SHAPES[message.t] : undefined;
  if (shape === undefined) return { ok: false, reason: `t: an unknown message type (${String(message.t)})` };
  const reason = shapeReason(message, shape);
  if (reason !== null) return { ok: false, reason };
  const m = message as FromWorker;
  if (m.t === "ref-reply" && !m.ok && m.error === undefined) return { ok: false, reason: "a failed reply without its error" };
  if (m.t === "backup-reply" && (m.ok ? m.objects === undefined || m.bytes === undefined : m.error === undefined))
    return { ok: false, reason: m.ok ? "a backup reply without its counts" : "a failed backup reply without its error" };
  return { ok: true, message: m };
}

/** The message if it is one a worker may send another on their direct channel, else the reason it is not. */
export function parseChannelMessage(message: unknown): Parsed<ChannelMessage> {
  if (!isObject(message)) return { ok: false, reason: "not an object" };
  let reason: string | null;
  switch (message.t) {
    case "not-here":
      reason = isId(message.rid) ? null : "a refusal without its rid";
      break;
    case "bye":
    case "bye-ack":
      reason = null;
      break;
    default:
      reason = ROUTED_TYPES.has(message.t) ? routedMessageReason(message, false) : `an unknown message type (${String(message.t)})`;
  }
  return reason === null ? { ok: true, message: message as ChannelMessage } : { ok: false, reason };
}
