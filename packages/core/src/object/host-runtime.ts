import type { Socket } from "node:net";
import type { Metrics } from "../metrics.ts";
import type { ObjectOptions } from "../options.ts";
import type { StorageProvider } from "../storage/storage-provider.ts";
import type { SocketEnd } from "../websocket/socket-end.ts";
import type { HostControl } from "./host-control.ts";
import type { DurableObjectState } from "./state.ts";

/** A Durable Object class as the runtime sees it. */
export type DurableObjectClass = new (ctx: DurableObjectState, env: never) => object;

/** What an object's host needs from its runtime (the `Runtime` implements it). */
export interface HostRuntime {
  readonly options: ObjectOptions;
  readonly provider: StorageProvider;
  readonly env: Record<string, unknown>;
  /** `ctx.exports`: loopback bindings of the Worker's own exports. */
  readonly exports: Record<string, unknown>;
  readonly metrics: Metrics;
  /** The host's instance was constructed or handled an event (LRU bookkeeping). */
  touched(host: HostControl): void;
  /** The host's instance was dropped. */
  released(host: HostControl): void;
  /** Serves a socket moved in from another process with `end`; `unparsed` is read first (the runtime's server binds it). */
  resumeSocket(socket: Socket, unparsed: Buffer, end: SocketEnd): void;
}
