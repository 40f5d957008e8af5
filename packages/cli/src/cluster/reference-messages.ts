/**
 * The cluster wire's messages for RPC by reference (rpc-references.ts):
 * a call or property read on a value another worker process holds for
 * this one (a function, an RpcTarget, a stub it was passed), its reply,
 * and the release of entries whose last stub is gone. They are addressed
 * to a process by its serial, as replies are; the supervisor relays them,
 * and answers a call to a process that has exited itself.
 */
import type { WireRefs } from "@torpor/core/cluster";
import { arrayOf, isBoolean, isId, isString, isWireError, isWireRefs, oneOf, optional, type Shape } from "./message-checks.ts";
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

/** The shapes of the reference messages a worker sends, by type (ipc-validation.ts checks them with its own). */
export const REFERENCE_SHAPES: Readonly<Record<string, Shape>> = {
  "ref-call": {
    to: isId,
    rid: isId,
    ref: isId,
    path: arrayOf(isString),
    op: oneOf("call", "get"),
    args: Array.isArray,
    refs: optional(isWireRefs),
  },
  "ref-reply": { to: isId, rid: isId, ok: isBoolean, refs: optional(isWireRefs), error: optional(isWireError) },
  "ref-release": { to: isId, ids: arrayOf(isId, 1) },
};

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
