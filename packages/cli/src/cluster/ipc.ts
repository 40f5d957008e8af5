/**
 * The messages between the supervisor and its workers: those with a
 * descriptor on Node IPC (advanced serialization), the rest on each worker's
 * control channel (control-channel.ts says which goes where and why; `after`
 * on a control message names the IPC messages it must follow). What workers send each other goes through the supervisor,
 * or, for routed calls whose owner a worker knows, on the direct channel the
 * supervisor set up between them (worker-channels.ts). A routed call names the object (the supervisor finds the
 * process owning its slot now, or holds the call while the slot has none);
 * everything else (replies, upgrades, body chunks) names a process by its
 * serial, unique for the supervisor's life, never by worker index: the
 * process behind an index changes on every restart and reload, and a message
 * for a process that is gone is dropped rather than given to its successor.
 */
import type { Metrics, ObjectInfo } from "@torpor/core";
import type { MovedSocket as CoreMovedSocket } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import type { ReadyCheck } from "../health.ts";
import type { NodeTable } from "./node-membership.ts";
import type { NodeInit } from "./node-worker.ts";
import type { WireRefs } from "@torpor/core/cluster";
import type { ReferenceFromWorker, ReferenceToWorker } from "./reference-messages.ts";
import type { WireError, WireRequest } from "./wire.ts";

/**
 * A routed operation on an object. `refs` (from a worker of this node): the
 * caller passes references (rpc-references.ts), those in `args` listed.
 */
export type CallOp =
  | { op: "fetch"; request: WireRequest }
  | { op: "call"; method: string; args: unknown[]; refs?: WireRefs }
  | { op: "read"; property: string; refs?: WireRefs };

/** What travels with one moved WebSocket: core's record (everything that survives hibernation), plus the unparsed bytes. */
export interface MovedSocket extends CoreMovedSocket {
  unparsed: Uint8Array;
}

/** The request line and headers of an upgrade handed to another process. */
export interface UpgradeHead {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One piece of a streamed body (request or response) between two processes: `seq` counts from 0. */
export type BodyMessage =
  | { t: "body-chunk"; to: number; stream: number; seq: number; data: Uint8Array }
  | { t: "body-end"; to: number; stream: number; seq: number; error?: WireError }
  /** The reader took `bytes` more: the writer may send that much more (flow control). */
  | { t: "body-credit"; to: number; stream: number; bytes: number }
  /** The reader gave up (its caller went away): the writer stops. */
  | { t: "body-cancel"; to: number; stream: number };

/** Supervisor → worker. */
export type ToWorker =
  /** `moveFd`: this process's end of its descriptor channel (fd-channel.ts), when the supervisor has the addon. */
  | { t: "init"; index: number; serial: number; slots: number[]; node?: NodeInit; moveFd?: number }
  /** A node of several machines: its table after a renewal (deadline, which slots are local or on which node). */
  | { t: "table"; table: NodeTable }
  /** The node lost its lease: no more output; sockets close with 1012; exit. */
  | { t: "fence"; reason: string }
  /** The node hands `slots` over: close their objects (after their commits) and give the slots up. */
  | { t: "drain"; rid: number; slots: number[]; after?: number; afterMoved?: number }
  | { t: "conn" }
  /** The handle is a stream socket to process `peer`: a direct channel (worker-channels.ts). */
  | { t: "channel"; peer: number }
  | ({ t: "call"; rid: number; from: number; key: ObjectKey } & CallOp)
  /** `from`: the process that answered (a streamed response body comes from there). */
  | { t: "reply"; rid: number; from: number; ok: true; value: unknown; refs?: WireRefs }
  | { t: "reply"; rid: number; from: number; ok: false; error: WireError }
  | ReferenceToWorker
  | { t: "upgrade"; token: number; req: UpgradeHead; head: Uint8Array }
  | { t: "abandon"; token: number }
  /**
   * Give up every object (reload): report each slot with `released` once its objects left. `batched`: the sockets,
   * their objects' auto-responses and the `released` messages go on the descriptor channel (fd-channel.ts).
   */
  | { t: "release"; socketDrainMs: number; batched?: boolean; after?: number; afterMoved?: number }
  | { t: "socket"; moved: MovedSocket }
  /** Moved sockets on the descriptor channel, with one descriptor each, in order. */
  | { t: "sockets"; moved: MovedSocket[] }
  | { t: "auto-response"; key: ObjectKey; request: string; response: string }
  /** These slots are yours from now on (nobody else has them). */
  | { t: "acquire"; slots: number[]; after?: number; afterMoved?: number }
  /** Answer `moved-in-reply` once everything sent before this (a reload's sockets, `acquire`) was handled: the move is over here. */
  | { t: "moved-in"; rid: number; after?: number; afterMoved?: number }
  | { t: "stats"; rid: number }
  | { t: "hibernate"; rid: number; binding: string; name: string; after?: number; afterMoved?: number }
  | { t: "health"; rid: number }
  | { t: "backup"; rid: number; dest: string }
  /** Finish what is in flight (bounded by `deadlineMs`), close sockets with `code`/`reason` (default 1012) and exit. */
  | { t: "stop"; deadlineMs: number; code?: number; reason?: string; after?: number; afterMoved?: number }
  /** That process is gone: streams to and from it end with an error. */
  | { t: "exited"; serial: number }
  | (DistributiveOmit<BodyMessage, "to"> & { from: number });

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Worker → supervisor. */
export type FromWorker =
  /** `moves`: it opened its descriptor channel (fd-channel.ts), so a reload may move sockets to and from it in batches. */
  | { t: "ready"; moves?: boolean }
  | { t: "failed"; error: WireError }
  | ({ t: "call"; rid: number; key: ObjectKey } & CallOp)
  | { t: "reply"; rid: number; to: number; ok: true; value: unknown; refs?: WireRefs }
  | { t: "reply"; rid: number; to: number; ok: false; error: WireError }
  | ReferenceFromWorker
  | { t: "upgrade"; to: number; token: number; req: UpgradeHead; head: Uint8Array }
  | { t: "abandon"; to: number; token: number }
  | { t: "socket"; moved: MovedSocket }
  | { t: "sockets"; moved: MovedSocket[] }
  | { t: "auto-response"; key: ObjectKey; request: string; response: string }
  /** These slots have no object here any more (their sockets were sent before this message). */
  | { t: "released"; slots: number[]; sockets: number; closed: number }
  | { t: "moved-in-reply"; rid: number }
  | { t: "stats-reply"; rid: number; metrics: Metrics; objects: ObjectInfo[] }
  | { t: "hibernate-reply"; rid: number; status: number; body: unknown }
  | { t: "drained"; rid: number; objects: number }
  | { t: "health-reply"; rid: number; checks: ReadyCheck[] }
  | { t: "imports"; urls: string[] }
  | { t: "backup-reply"; rid: number; ok: true; objects: number; bytes: number }
  | { t: "backup-reply"; rid: number; ok: false; error: string }
  | BodyMessage;
