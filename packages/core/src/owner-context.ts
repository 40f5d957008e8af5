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
  // Not `ownerContext.exit(fn)`: on Node 20 (and 22 without AsyncContextFrame) exit() disables the
  // storage for the call, and as it is the process's only one, Node's async hook and V8's promise
  // hooks with it, then enables them again: 1.4–2.8 µs of CPU per call against 13–60 ns for a run
  // with no store (bench/RESULTS.md, "outsideOwners"). Same context for `fn` and what it schedules:
  // no owner. Outside any owner (or before the storage was ever used) there is nothing to leave.
  if (ownerContext.getStore() === undefined) return fn();
  return ownerContext.run(undefined as unknown as object, fn);
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

/** A connection that code of an owner opened or accepted, ended when that owner is torn down (see `tieToRunningOwner`). */
export interface TiedConnection {
  /** Ends the connection without a closing handshake and without telling the dead code's listeners. */
  drop(): void;
  /** False once the connection is closed (it no longer needs ending). */
  isOpen(): boolean;
}

/** An owner that ends the connections its code opened or accepted when it is torn down (an object's incarnation). */
export interface ConnectionOwner {
  tieConnection(connection: TiedConnection): void;
}

/**
 * Ties `connection` to the running code's owner: when that owner is torn
 * down (an object instance reset), the connection is dropped, as workerd
 * destroys every I/O object of a broken actor's context (the peer sees the
 * connection end without a Close frame). Nothing outside object code.
 */
export function tieToRunningOwner(connection: TiedConnection): void {
  const owner = ownerContext.getStore() as Partial<ConnectionOwner> | undefined;
  owner?.tieConnection?.(connection);
}
