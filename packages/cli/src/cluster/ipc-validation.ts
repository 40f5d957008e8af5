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
 * ones, are checked by hand (routed-message-checks.ts); the rest with zod.
 */
import { z } from "zod";
import type { FromWorker } from "./ipc.ts";
import { referenceSchemas } from "./reference-messages.ts";
import { isId, isObjectKey, isWireError, ROUTED_TYPES, routedMessageReason } from "./routed-message-checks.ts";
import type { ChannelMessage } from "./worker-channels.ts";

const serial = z.number().int().positive();
const rid = z.number().int().positive();
const bytes = z.instanceof(Uint8Array);
// Written once, in routed-message-checks.ts, for the routed messages and these alike.
const key = z.custom<unknown>(isObjectKey, "not a valid object key");
const wireError = z.custom<{ name: string; message: string }>(isWireError, "not a valid error");
const upgradeHead = z.object({ method: z.string(), url: z.string(), headers: z.record(z.string(), z.union([z.string(), z.array(z.string()), z.undefined()])) });
const moved = z.object({
  key,
  tags: z.array(z.string()).nullable(),
  attachment: z.unknown().optional(),
  autoResponseAt: z.number(),
  protocol: z.string(),
  unparsed: bytes,
});
const slots = z.array(z.number().int().min(0).max(255));

/** What a worker sends its supervisor, but for the routed messages (ROUTED_TYPES), checked by hand. */
const schema = z.discriminatedUnion("t", [
  z.object({ t: z.literal("ready") }),
  z.object({ t: z.literal("failed"), error: wireError }),
  ...referenceSchemas,
  z.object({ t: z.literal("upgrade"), to: serial, token: rid, req: upgradeHead, head: bytes }),
  z.object({ t: z.literal("abandon"), to: serial, token: rid }),
  z.object({ t: z.literal("socket"), moved }),
  z.object({ t: z.literal("auto-response"), key, request: z.string(), response: z.string() }),
  z.object({ t: z.literal("released"), slots, sockets: z.number().int().min(0), closed: z.number().int().min(0) }),
  z.object({ t: z.literal("stats-reply"), rid, metrics: z.unknown().optional(), objects: z.array(z.unknown()) }),
  z.object({ t: z.literal("hibernate-reply"), rid, status: z.number().int(), body: z.unknown().optional() }),
  z.object({ t: z.literal("drained"), rid, objects: z.number().int().min(0) }),
  z.object({
    t: z.literal("health-reply"),
    rid,
    checks: z.array(z.object({ name: z.enum(["lock", "workers", "storage"]), ok: z.boolean(), detail: z.string() })),
  }),
  z.object({ t: z.literal("imports"), urls: z.array(z.string()) }),
  z.object({
    t: z.literal("backup-reply"),
    rid,
    ok: z.boolean(),
    objects: z.number().int().min(0).optional(),
    bytes: z.number().int().min(0).optional(),
    error: z.string().optional(),
  }),
]);

type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** The message if it is one a worker may send, else the reason it is not. */
export function parseFromWorker(message: unknown): Parsed<FromWorker> {
  if (isRecord(message) && ROUTED_TYPES.has(message.t)) {
    const reason = routedMessageReason(message, true);
    return reason === null ? { ok: true, message: message as FromWorker } : { ok: false, reason };
  }
  const result = schema.safeParse(message);
  if (!result.success) return failure(result.error);
  const m = result.data;
  if (m.t === "ref-reply" && !m.ok && m.error === undefined) return { ok: false, reason: "a failed reply without its error" };
  if (m.t === "backup-reply" && (m.ok ? m.objects === undefined || m.bytes === undefined : m.error === undefined))
    return { ok: false, reason: m.ok ? "a backup reply without its counts" : "a failed backup reply without its error" };
  return { ok: true, message: message as FromWorker };
}

/** The message if it is one a worker may send another on their direct channel, else the reason it is not. */
export function parseChannelMessage(message: unknown): Parsed<ChannelMessage> {
  if (!isRecord(message)) return { ok: false, reason: "not an object" };
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

function failure(error: z.ZodError): { ok: false; reason: string } {
  const issue = error.issues[0]!;
  return { ok: false, reason: `${issue.path.join(".") || "(message)"}: ${issue.message}` };
}
