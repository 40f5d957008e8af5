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
 * values, metrics) are passed on as they are.
 */
import { z } from "zod";
import type { FromWorker } from "./ipc.ts";
import { referenceSchemas, wireRefsSchema } from "./reference-messages.ts";
import type { ChannelMessage } from "./worker-channels.ts";

const serial = z.number().int().positive();
const rid = z.number().int().positive();
const bytes = z.instanceof(Uint8Array);
const headers = z.array(z.tuple([z.string(), z.string()]));
const key = z.object({ namespace: z.string().min(1), id: z.string().regex(/^[0-9a-f]{64}$/), name: z.string().optional() });
const wireError = z.object({ name: z.string(), message: z.string(), code: z.string().optional(), stack: z.string().optional() });
/** A request's body streams beside it (wire.ts: WireBody), never inline. */
const body = z.object({ stream: z.number().int().positive() }).nullable();
const request = z.object({ method: z.string(), url: z.string(), headers, body });
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

// What the supervisor's channel and a direct channel both carry; on the supervisor's, replies and body messages also name
// the process they go `to`.
const call = z.object({
  t: z.literal("call"),
  rid,
  key,
  op: z.enum(["fetch", "call", "read"]),
  request: request.optional(),
  method: z.string().optional(),
  args: z.array(z.unknown()).optional(),
  property: z.string().optional(),
  refs: wireRefsSchema.optional(),
});
const reply = z.object({
  t: z.literal("reply"),
  rid,
  ok: z.boolean(),
  value: z.unknown().optional(),
  refs: wireRefsSchema.optional(),
  error: wireError.optional(),
});
const seq = z.number().int().min(0);
const bodyChunk = z.object({ t: z.literal("body-chunk"), stream: rid, seq, data: bytes });
const bodyEnd = z.object({ t: z.literal("body-end"), stream: rid, seq, error: wireError.optional() });
const bodyCredit = z.object({ t: z.literal("body-credit"), stream: rid, bytes: z.number().int().positive() });
const bodyCancel = z.object({ t: z.literal("body-cancel"), stream: rid });
const to = { to: serial };

const schema = z.discriminatedUnion("t", [
  z.object({ t: z.literal("ready") }),
  z.object({ t: z.literal("failed"), error: wireError }),
  call,
  reply.extend(to),
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
  bodyChunk.extend(to),
  bodyEnd.extend(to),
  bodyCredit.extend(to),
  bodyCancel.extend(to),
]);

const channelSchema = z.discriminatedUnion("t", [
  call,
  reply,
  z.object({ t: z.literal("not-here"), rid }),
  bodyChunk,
  bodyEnd,
  bodyCredit,
  bodyCancel,
  z.object({ t: z.literal("bye") }),
  z.object({ t: z.literal("bye-ack") }),
]);

type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

/** The message if it is one a worker may send, else the reason it is not. */
export function parseFromWorker(message: unknown): Parsed<FromWorker> {
  const result = schema.safeParse(message);
  if (!result.success) return failure(result.error);
  const m = result.data;
  const reason = m.t === "call" || m.t === "reply" ? incomplete(m) : m.t === "ref-reply" && !m.ok && m.error === undefined ? FAILED_WITHOUT_ERROR : null;
  if (reason !== null) return { ok: false, reason };
  if (m.t === "backup-reply" && (m.ok ? m.objects === undefined || m.bytes === undefined : m.error === undefined))
    return { ok: false, reason: m.ok ? "a backup reply without its counts" : "a failed backup reply without its error" };
  return { ok: true, message: message as FromWorker };
}

/** The message if it is one a worker may send another on their direct channel, else the reason it is not. */
export function parseChannelMessage(message: unknown): Parsed<ChannelMessage> {
  const result = channelSchema.safeParse(message);
  if (!result.success) return failure(result.error);
  const reason = result.data.t === "call" || result.data.t === "reply" ? incomplete(result.data) : null;
  return reason === null ? { ok: true, message: message as ChannelMessage } : { ok: false, reason };
}

const FAILED_WITHOUT_ERROR = "a failed reply without its error";

/** What a call or a reply needs beyond its envelope: the fields of its op; a failed reply's error. */
function incomplete(m: z.infer<typeof call> | z.infer<typeof reply>): string | null {
  if (m.t === "reply") return !m.ok && m.error === undefined ? FAILED_WITHOUT_ERROR : null;
  if (m.op === "fetch") return m.request === undefined ? "a routed fetch without its request" : null;
  if (m.op === "call") return m.method === undefined || m.args === undefined ? "a routed call without its method and args" : null;
  return m.property === undefined ? "a routed read without its property" : null;
}

function failure(error: z.ZodError): { ok: false; reason: string } {
  const issue = error.issues[0]!;
  return { ok: false, reason: `${issue.path.join(".") || "(message)"}: ${issue.message}` };
}
