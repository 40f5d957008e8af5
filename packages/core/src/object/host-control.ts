import type { ObjectCounters } from "../metrics.ts";
import type { ObjectKey } from "../storage/storage-provider.ts";
import type { DurableObjectState } from "./state.ts";

/** Lifecycle state of an object. */
export type ObjectLifecycle = "live" | "hibernated";

/**
 * What the testing package drives on an object's host (`hostOf(stub)`,
 * `runtime.hostFor(id)`): its state and counters, running code inside it,
 * eviction and its sockets. A narrow view, so tools outside core never
 * reach into the host's or its sockets' records.
 */
export interface HostControl {
  readonly key: ObjectKey;
  /** The runtime hosting the object (tools keep per-runtime state under it). */
  readonly runtime: object;
  readonly lifecycle: ObjectLifecycle;
  readonly counters: Readonly<ObjectCounters>;
  /** The live instance's `ctx`, or null while hibernated. */
  readonly ctx: DurableObjectState | null;
  /** Open hibernatable WebSockets. */
  readonly socketCount: number;
  /** Runs `call` inside the object through its gate (constructing it if hibernated); the result waits for the output gate. */
  call<T>(call: (instance: Record<string, unknown>) => T | Promise<T>): Promise<T>;
  /** Resolves once no event is running or queued. */
  drained(): Promise<void>;
  /** Commits pending storage writes now. */
  flush(): Promise<void>;
  /** Why the instance cannot be dropped now; empty when it can. */
  blockers(): string[];
  /** Drops the instance if nothing pins it; returns the blockers when it cannot. */
  hibernate(): string[];
  /** Runs the pending alarm now if there is one; resolves with whether `alarm()` ran. */
  runAlarmNow(): Promise<boolean>;
  /** Closes every socket of the object with `code`, detached first: no handler runs and nothing wakes. */
  closeAllSockets(code: number, reason: string): void;
  /** Drops the hibernatable sockets without a closing handshake (clients see 1006); no handler runs. */
  dropSockets(): void;
}
