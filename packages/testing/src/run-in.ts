import type { DurableObjectState, DurableObjectStub } from "@torpor/core";
import { hostFromStub, type ObjectHost } from "./host.ts";

/** The instance type behind a stub (`DurableObjectStub<Room>` → `Room`); `unknown` for an id. */
export type InstanceOf<S> = S extends DurableObjectStub<infer T> ? T : unknown;

/**
 * Runs `fn` inside the object, through its gate, as one event: it waits for
 * events ahead of it, constructs (or wakes) the instance if needed, and its
 * result is released after the storage writes it made are committed.
 *
 * @example
 * const count = await runInDurableObject(stub, (room, ctx) => ctx.getWebSockets().length);
 */
export function runInDurableObject<S extends DurableObjectStub<object>, R>(
  stub: S,
  fn: (instance: InstanceOf<S>, ctx: DurableObjectState) => R | Promise<R>,
): Promise<Awaited<R>> {
  return runInHost(hostFromStub(stub), fn as (instance: unknown, ctx: DurableObjectState) => R | Promise<R>);
}

/** @internal `runInDurableObject` on a resolved host. */
export function runInHost<R>(host: ObjectHost, fn: (instance: unknown, ctx: DurableObjectState) => R | Promise<R>): Promise<Awaited<R>> {
  return host.call((instance) => fn(instance, host.ctx!)) as Promise<Awaited<R>>;
}

/**
 * Fires the object's pending alarm now, whatever its scheduled time, and
 * resolves with whether `alarm()` ran (false when none is set). A throwing
 * `alarm()` is logged and rescheduled with `retryCount` + 1 and exponential
 * backoff, exactly as a timer-fired one: advance the clock to run the retry.
 *
 * @example
 * expect(await runDurableObjectAlarm(stub)).toBe(true);
 */
export function runDurableObjectAlarm(stub: DurableObjectStub<object>): Promise<boolean> {
  return hostFromStub(stub).runAlarmNow();
}
