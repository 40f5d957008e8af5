import type { DurableObjectStub, ObjectLifecycle } from "@torpor/core";
import { hostFromStub, type ObjectHost } from "./host.ts";

/** An object's lifecycle state and counters, as `lifecycle(stub)` reports them. */
export interface LifecycleInfo {
  state: ObjectLifecycle;
  /** Open hibernatable WebSockets (they survive hibernation). */
  sockets: number;
  /** Instances constructed (first start plus every wake). */
  constructed: number;
  /** Constructions that were wakes from hibernation. */
  woken: number;
  /** Times the instance was dropped (idle hibernation, LRU, forced eviction). */
  evicted: number;
  /** Events delivered (requests, RPC calls, WebSocket events, alarms). */
  events: number;
  /** Uncaught handler errors. */
  errors: number;
}

/**
 * Whether the object is `"live"` or `"hibernated"`, with its counters.
 *
 * @example
 * expect(lifecycle(stub)).toMatchObject({ state: "live", constructed: 2, woken: 1 });
 */
export function lifecycle(stub: DurableObjectStub<object>): LifecycleInfo {
  return lifecycleOf(hostFromStub(stub));
}

/** @internal */
export function lifecycleOf(host: ObjectHost): LifecycleInfo {
  return { state: host.lifecycle, sockets: host.socketCount, ...host.counters };
}

/**
 * Why the object cannot hibernate right now, one reason per entry; empty
 * when it can (or already has). Reasons name the fix, e.g. a socket
 * accepted with `ws.accept()` instead of `ctx.acceptWebSocket()`.
 *
 * @example
 * expect(hibernationBlockers(stub)).toEqual([]);
 */
export function hibernationBlockers(stub: DurableObjectStub<object>): string[] {
  return blockersOf(hostFromStub(stub));
}

/** @internal */
export function blockersOf(host: ObjectHost): string[] {
  return host.lifecycle === "hibernated" ? [] : host.blockers();
}
