/**
 * Fault isolation: which code an escaping exception belongs to.
 *
 * Object code runs inside an async context naming its object (an
 * `AsyncLocalStorage` store, carried by Node through timers, promises,
 * `setImmediate`, `process.nextTick` and the events they emit). When an
 * exception escapes asynchronously (a `setTimeout` callback that throws, a
 * listener on a `ws.accept()` socket, a microtask), the process-wide handler
 * asks the context who was running and resets that object only; the process
 * and every other object go on. See docs/architecture.md ("Failures in
 * handler code") for what happens outside any object.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { ownerContext } from "../owner-context.ts";

/** Code that can own an escaping exception: one incarnation of an object, or the Worker entry. */
export interface FaultOwner {
  /** An exception escaped this owner's code (a timer, a listener, a microtask). */
  uncaughtException(error: unknown): void;
  /** A promise of this owner's code rejected with no handler. */
  unhandledRejection(reason: unknown): void;
}

const context = ownerContext as AsyncLocalStorage<FaultOwner>;

/** Runs `fn(...args)` (and everything it schedules) as `owner`'s code. */
export function runAs<A extends unknown[], T>(owner: FaultOwner, fn: (...args: A) => T, ...args: A): T {
  return context.run(owner, fn, ...args);
}

/** Who is running now, or undefined outside any object and the Worker entry. */
export function currentOwner(): FaultOwner | undefined {
  return context.getStore();
}

const nativeQueueMicrotask = globalThis.queueMicrotask;

/**
 * Node (20) runs a microtask in its async context but leaves that context
 * before an exception it threw reaches 'uncaughtException', so the owner is
 * lost. Catching inside the callback, while the context is still known,
 * keeps the attribution.
 */
function attributedQueueMicrotask(callback: VoidFunction): void {
  const owner = context.getStore();
  if (owner === undefined || typeof callback !== "function") {
    nativeQueueMicrotask(callback);
    return;
  }
  nativeQueueMicrotask(() => {
    try {
      callback();
    } catch (error) {
      owner.uncaughtException(error);
    }
  });
}

/** What to do with a fault that no object or Worker owns. */
export interface UnownedFaults {
  uncaughtException(error: unknown): void;
  unhandledRejection(reason: unknown): void;
}

let unowned: UnownedFaults | null = null;

function onUncaughtException(error: unknown): void {
  const owner = context.getStore();
  if (owner !== undefined) owner.uncaughtException(error);
  else unowned?.uncaughtException(error);
}

function onUnhandledRejection(reason: unknown): void {
  const owner = context.getStore();
  if (owner !== undefined) owner.unhandledRejection(reason);
  else unowned?.unhandledRejection(reason);
}

/**
 * Installs the process-wide handlers (while a runtime serves); `handler`
 * gets the faults no owner claims. Returns the uninstaller.
 */
export function isolateFaults(handler: UnownedFaults): () => void {
  unowned = handler;
  process.on("uncaughtException", onUncaughtException);
  process.on("unhandledRejection", onUnhandledRejection);
  globalThis.queueMicrotask = attributedQueueMicrotask;
  return () => {
    if (unowned !== handler) return;
    unowned = null;
    process.off("uncaughtException", onUncaughtException);
    process.off("unhandledRejection", onUnhandledRejection);
    if (globalThis.queueMicrotask === attributedQueueMicrotask) globalThis.queueMicrotask = nativeQueueMicrotask;
  };
}
