/**
 * The cluster wire's messages for RPC by reference (rpc-references.ts):
 * a call or property read on a value another worker process holds for
 * this one (a function, an RpcTarget, a stub it was passed), its reply,
 * and the release of entries whose last stub is gone. They are addressed
 * to a process by its serial, as replies are; the supervisor relays them,
 * and answers a call to a process that has exited itself.
 */
import { z } from "zod";
import type { WireRefs } from "@torpor/core/cluster";
import type { WireError } from "./wire.ts";

/** A call (`op` "call") or read ("get") along `path` from entry `ref` of the receiver's export table. */
export interface ReferenceCall {
  t: "ref-call";
  rid: number;
  ref: number;
  path: string[];
  op: "call" | "get";
  args: unknown[];
  refs?: WireRefs;
}

/** The answer to a `ref-call`. */
export type ReferenceReply =
  | { t: "ref-reply"; rid: number; ok: true; value: unknown; refs?: WireRefs }
  | { t: "ref-reply"; rid: number; ok: false; error: WireError };

/** The sender holds no stub to these entries of the receiver's table any more. */
export interface ReferenceRelease {
  t: "ref-release";
  ids: number[];
}

/** A reference message between processes. */
export type ReferenceMessage = ReferenceCall | ReferenceReply | ReferenceRelease;

/** Worker → supervisor: `to` names the process. */
export type ReferenceFromWorker = ReferenceMessage & { to: number };

/** Supervisor → worker: `from` names the sender (0: the supervisor, answering for a process that is gone). */
export type ReferenceToWorker = ReferenceMessage & { from: number };

const id = z.number().int().positive();
const serial = z.number().int().positive();
const wireError = z.object({ name: z.string(), message: z.string(), code: z.string().optional(), stack: z.string().optional() });

/** A reference's entry in a message (WireRef). */
const wireRef = z.union([
  z.object({ id }),
  z.object({ disposed: z.literal(true) }),
  z.object({ durable: z.object({ namespace: z.string().min(1), id: z.string().regex(/^[0-9a-f]{64}$/), name: z.string().optional() }) }),
]);

/** The `refs` list of a message: placeholders (objects of the message) and what each stands for. */
export const wireRefsSchema = z.array(z.tuple([z.object({}), wireRef]));

/** The schemas of the reference messages a worker sends (ipc-validation.ts adds them to its union). */
export const referenceSchemas = [
  z.object({
    t: z.literal("ref-call"),
    to: serial,
    rid: id,
    ref: id,
    path: z.array(z.string()),
    op: z.enum(["call", "get"]),
    args: z.array(z.unknown()),
    refs: wireRefsSchema.optional(),
  }),
  z.object({
    t: z.literal("ref-reply"),
    to: serial,
    rid: id,
    ok: z.boolean(),
    value: z.unknown().optional(),
    refs: wireRefsSchema.optional(),
    error: wireError.optional(),
  }),
  z.object({ t: z.literal("ref-release"), to: serial, ids: z.array(id).min(1) }),
] as const;

/** Where the supervisor finds a process by serial. */
interface Processes {
  get(serial: number): { send(message: ReferenceToWorker): void } | undefined;
}

/**
 * Relays a reference message from process `from` to the process it names.
 * A call to a process that has exited is answered here: the value it
 * referred to is gone with it.
 */
export function relayReference(procs: Processes, from: number, message: ReferenceFromWorker): void {
  const { to, ...rest } = message;
  const target = procs.get(to);
  if (target !== undefined) {
    target.send({ ...rest, from } as ReferenceToWorker);
    return;
  }
  if (message.t !== "ref-call") return;
  procs.get(from)?.send({ t: "ref-reply", rid: message.rid, from: 0, ok: false, error: referenceLost(to) });
}

/** The error of a call on a stub whose target lived in a process that has exited. */
export function referenceLost(serial: number): WireError {
  return {
    name: "TorporError",
    code: "ERR_RPC_REFERENCE_LOST",
    message: `The worker process holding this RPC stub's target (process ${serial}) exited or was reloaded, so the function or RpcTarget it referred to is gone; the call did not run. Ask its object for a new one.`,
  };
}
