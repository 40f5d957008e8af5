import { TorporError, type DurableObjectStub } from "@torpor/core";
import { hostFromStub, type ObjectHost } from "./host.ts";

/** What eviction does with the object's hibernatable WebSockets. */
export interface EvictOptions {
  /**
   * `"hibernate"` (default): sockets stay connected in the runtime, the next
   * message wakes a fresh instance (Cloudflare hibernation). `"close"`: the
   * runtime closes them with {@link EVICT_CLOSE_CODE} first, as when an
   * object is torn down (a deploy, a crash); handlers do not run for it.
   */
  webSockets?: "hibernate" | "close";
}

/** Close code sent to clients by `evictDurableObject(stub, { webSockets: "close" })`: 1001, going away. */
export const EVICT_CLOSE_CODE = 1001;
/** Close reason sent with {@link EVICT_CLOSE_CODE}. */
export const EVICT_CLOSE_REASON = "Durable Object evicted";

/**
 * Drops the object's instance now, as idle hibernation would, without
 * waiting for a timer: events in flight finish first and pending storage
 * writes are committed. The next event constructs a fresh instance, so any
 * state kept only in instance fields is gone. Evicting a hibernated object
 * is a no-op. Throws ERR_NOT_HIBERNATABLE naming what pins it (a socket
 * accepted with `ws.accept()`, a pending `waitUntil`, …).
 *
 * @example
 * await evictDurableObject(stub); // sockets stay open
 * client.send("hello"); // wakes a new instance
 */
export async function evictDurableObject(stub: DurableObjectStub<object>, options: EvictOptions = {}): Promise<void> {
  await evictHost(hostFromStub(stub), options);
}

/**
 * @internal eviction of a resolved host; returns whether an instance was dropped.
 * `closeSockets` replaces the 1001 close of `"close"` mode (cloudflare:test drops the connections instead).
 */
export async function evictHost(host: ObjectHost, options: EvictOptions = {}, closeSockets: (host: ObjectHost) => void = closeWithGoingAway): Promise<boolean> {
  const mode = options.webSockets ?? "hibernate";
  if (mode !== "hibernate" && mode !== "close") {
    throw new TorporError("ERR_INVALID_OPTIONS", `evictDurableObject() option webSockets must be "hibernate" or "close"; got ${JSON.stringify(mode)}.`);
  }
  await host.drained();
  // Writes of the last event are committed on the next turn; commit them now so eviction never depends on timing.
  await host.flush();
  // Detached first: an evicted object is gone, so its webSocketClose() must not run (and wake it).
  if (mode === "close") closeSockets(host);
  if (host.lifecycle === "hibernated") return false;
  const blockers = host.hibernate();
  if (blockers.length > 0) {
    throw new TorporError(
      "ERR_NOT_HIBERNATABLE",
      `Object ${host.key.name === undefined ? host.key.id : `"${host.key.name}"`} cannot be evicted: ${blockers.join("; ")}.`,
    );
  }
  return true;
}

function closeWithGoingAway(host: ObjectHost): void {
  host.closeAllSockets(EVICT_CLOSE_CODE, EVICT_CLOSE_REASON);
}

/**
 * Drops the object's hibernatable WebSockets without a closing handshake,
 * as an isolate torn down on Cloudflare does: clients see 1006, `wasClean`
 * false, and no handler of the object runs for it.
 */
export function dropHibernatableSockets(host: ObjectHost): void {
  host.dropSockets();
}
