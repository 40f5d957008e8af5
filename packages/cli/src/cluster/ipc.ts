/**
 * The messages between the supervisor and its workers (Node IPC, advanced
 * serialization). Workers never talk to each other directly: the supervisor
 * relays by worker index, so it can hold messages for an index whose worker
 * is restarting or whose objects are moving, and fail the calls a dead
 * worker will never answer.
 */
import type { Metrics, ObjectInfo } from "@torpor/core";
import type { ObjectKey } from "@torpor/core/storage";
import type { MovedSocket as CoreMovedSocket } from "@torpor/core/cluster";
import type { ReadyCheck } from "../health.ts";
import type { WireError, WireRequest, WireResponse } from "./wire.ts";

/** A routed operation on an object. */
export type CallOp = { op: "fetch"; request: WireRequest } | { op: "call"; method: string; args: unknown[] } | { op: "read"; property: string };

/** What travels with one moved WebSocket: core's record (everything that survives hibernation), plus the unparsed bytes. */
export interface MovedSocket extends CoreMovedSocket {
  unparsed: Uint8Array;
}

/** Supervisor → worker. */
export type ToWorker =
  | { t: "init"; index: number; slots: number[]; acquired: boolean }
  | { t: "conn" }
  | ({ t: "call"; rid: number; from: number; key: ObjectKey } & CallOp)
  | { t: "reply"; rid: number; ok: true; value: unknown; response?: WireResponse }
  | { t: "reply"; rid: number; ok: false; error: WireError }
  | { t: "upgrade"; token: number; req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }; head: Uint8Array }
  | { t: "abandon"; token: number }
  | { t: "release"; to: number }
  | { t: "socket"; moved: MovedSocket }
  | { t: "auto-response"; key: ObjectKey; request: string; response: string }
  | { t: "acquire" }
  | { t: "stats"; rid: number }
  | { t: "hibernate"; rid: number; binding: string; name: string }
  | { t: "health"; rid: number }
  | { t: "backup"; rid: number; dest: string }
  | { t: "stop"; code?: number; reason?: string };

/** Worker → supervisor. */
export type FromWorker =
  | { t: "ready" }
  | { t: "failed"; error: WireError }
  | ({ t: "call"; rid: number; to: number; key: ObjectKey } & CallOp)
  | { t: "reply"; rid: number; to: number; ok: true; value: unknown; response?: WireResponse }
  | { t: "reply"; rid: number; to: number; ok: false; error: WireError }
  | { t: "upgrade"; to: number; token: number; req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }; head: Uint8Array }
  | { t: "abandon"; to: number; token: number }
  | { t: "socket"; moved: MovedSocket }
  | { t: "auto-response"; key: ObjectKey; request: string; response: string }
  | { t: "released"; objects: number; sockets: number; closed: number }
  | { t: "acquired" }
  | { t: "stats-reply"; rid: number; metrics: Metrics; objects: ObjectInfo[] }
  | { t: "hibernate-reply"; rid: number; status: number; body: unknown }
  | { t: "health-reply"; rid: number; checks: ReadyCheck[] }
  | { t: "imports"; urls: string[] }
  | { t: "backup-reply"; rid: number; ok: true; objects: number; bytes: number }
  | { t: "backup-reply"; rid: number; ok: false; error: string };
