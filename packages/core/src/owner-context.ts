/**
 * The async context naming whose code is running: one incarnation of an
 * object, or the Worker entry (object/fault-isolation.ts sets it; Node
 * carries it through timers, promises and the events they emit). A leaf, so
 * that lower layers can step out of it.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Holds the owner of the running code (a `FaultOwner`), or nothing outside object and Worker code. */
export const ownerContext = new AsyncLocalStorage<object>();

/**
 * Runs `fn` outside any owner's context: for work that belongs to the
 * runtime rather than to the code that triggered it, such as closing a
 * connection (`ws` arms a close timer that must not count as the object's
 * own timer, nor be cancelled with it).
 */
export function outsideOwners<T>(fn: () => T): T {
  return ownerContext.exit(fn);
}

/** An owner whose output waits for its writes to be durable (an object's incarnation). */
export interface OutputOwner {
  /**
   * Null when output of this owner's code may leave now; else a promise that
   * resolves once it may, or rejects when it never may (its writes failed, or
   * the instance was reset).
   */
  outputBarrier(): Promise<void> | null;
}

/**
 * The output barrier of the running code's owner (see `OutputOwner`): what a
 * send on a socket no object owns, or an outbound connection, waits for. Null
 * outside object code.
 */
export function currentOutputBarrier(): Promise<void> | null {
  const owner = ownerContext.getStore() as Partial<OutputOwner> | undefined;
  return owner?.outputBarrier === undefined ? null : owner.outputBarrier();
}
