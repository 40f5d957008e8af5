/**
 * Checks every message a worker sends before the supervisor acts on it. The
 * Worker's own code runs in the worker process and can call `process.send`
 * with anything; a malformed message (or a bug) must cost at most that
 * message, never the supervisor and with it the whole cluster. Envelopes are
 * checked exactly (types, integer ranges, a 64-hex id for a routed call's
 * object); payloads that only the receiving worker reads (RPC values,
 * metrics) are passed on as they are.
 */
import { z } from "zod";
import type { FromWorker } from "./ipc.ts";
import { referenceSchemas, wireRefsSchema } from "./reference-messages.ts";

const serial = z.number().int().positive();
const rid = z.number().int().positive();
const bytes = z.instanceof(Uint8Array);
const headers = z.array(z.tuple([z.string(), z.string()]));
const key = z.object({ namespace: z.string().min(1), id: z.string().regex(/^[0-9a-f]{64}$/), name: z.string().optional() });
const wireError = z.object({ name: z.string(), message: z.string(), code: z.string().optional(), stack: z.string().optional() });
const body = z.union([z.null(), bytes, z.object({ stream: z.number().int().positive() })]);
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

const schema = z.discriminatedUnion("t", [
  z.object({ t: z.literal("ready") }),
  z.object({ t: z.literal("failed"), error: wireError }),
  z.object({
    t: z.literal("call"),
    rid,
    key,
    op: z.enum(["fetch", "call", "read"]),
    request: request.optional(),
    method: z.string().optional(),
    args: z.array(z.unknown()).optional(),
    property: z.string().optional(),
    refs: wireRefsSchema.optional(),
  }),
  z.object({
    t: z.literal("reply"),
    rid,
    to: serial,
    ok: z.boolean(),
    value: z.unknown().optional(),
    refs: wireRefsSchema.optional(),
    error: wireError.optional(),
  }),
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
  z.object({ t: z.literal("body-chunk"), to: serial, stream: rid, seq: z.number().int().min(0), data: bytes }),
  z.object({ t: z.literal("body-end"), to: serial, stream: rid, seq: z.number().int().min(0), error: wireError.optional() }),
  z.object({ t: z.literal("body-credit"), to: serial, stream: rid, bytes: z.number().int().positive() }),
  z.object({ t: z.literal("body-cancel"), to: serial, stream: rid }),
]);

/** The message if it is one a worker may send, else the reason it is not. */
export function parseFromWorker(message: unknown): { ok: true; message: FromWorker } | { ok: false; reason: string } {
  const result = schema.safeParse(message);
  if (result.success) {
    const m = result.data;
    // What each variant needs beyond the shared envelope.
    if (
      m.t === "call" &&
      (m.op === "fetch" ? m.request === undefined : m.op === "call" ? m.method === undefined || m.args === undefined : m.property === undefined)
    )
      return { ok: false, reason: `a routed ${m.op} without its ${m.op === "fetch" ? "request" : m.op === "call" ? "method and args" : "property"}` };
    if ((m.t === "reply" || m.t === "ref-reply") && !m.ok && m.error === undefined) return { ok: false, reason: "a failed reply without its error" };
    if (m.t === "backup-reply" && (m.ok ? m.objects === undefined || m.bytes === undefined : m.error === undefined))
      return { ok: false, reason: m.ok ? "a backup reply without its counts" : "a failed backup reply without its error" };
    return { ok: true, message: message as FromWorker };
  }
  const issue = result.error.issues[0]!;
  return { ok: false, reason: `${issue.path.join(".") || "(message)"}: ${issue.message}` };
}
