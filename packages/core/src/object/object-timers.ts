/**
 * Timers of object code. An object with a pending `setTimeout` or
 * `setInterval` is not hibernated (as on Cloudflare): dropping its instance
 * would leave the timer running in code whose storage is closed, one more
 * such instance per wake. So while a runtime exists, the global timer
 * functions note which incarnation set each timer (the async context of the
 * caller, see incarnation.ts); the timer pins the object until it has fired
 * (or, an interval, until cleared), and a reset cancels the timers of the
 * instance it discards. Timers that do not keep the process alive
 * (`unref()`, as libraries use for housekeeping) pin nothing.
 *
 * Only the global functions are followed: `node:timers` imports and
 * `timers/promises` are not (Workers code uses the globals).
 */
import { promisify } from "node:util";
import { currentIncarnation, type Incarnation } from "./incarnation.ts";

type Timer = NodeJS.Timeout;
const kOwner = Symbol("torpor.timerOwner");
type Owned = Timer & { [kOwner]?: Incarnation };

let installs = 0;
let native: { setTimeout: typeof setTimeout; setInterval: typeof setInterval; clearTimeout: typeof clearTimeout; clearInterval: typeof clearInterval } | null =
  null;

function trackedSetTimeout(this: unknown, callback: unknown, ms?: number, ...args: unknown[]): Timer {
  const owner = currentIncarnation();
  if (owner === undefined || typeof callback !== "function") return native!.setTimeout(callback as () => void, ms, ...args) as unknown as Timer;
  const timer = native!.setTimeout(
    function (this: unknown, ...a: unknown[]) {
      try {
        return callback.apply(this, a);
      } finally {
        owner.timerDone(timer);
      }
    },
    ms,
    ...args,
  ) as unknown as Owned;
  timer[kOwner] = owner;
  owner.timerStarted(timer);
  return timer;
}

function trackedSetInterval(this: unknown, callback: unknown, ms?: number, ...args: unknown[]): Timer {
  const timer = native!.setInterval(callback as () => void, ms, ...args) as unknown as Owned;
  const owner = currentIncarnation();
  if (owner !== undefined && typeof callback === "function") {
    timer[kOwner] = owner;
    owner.timerStarted(timer);
  }
  return timer;
}

function forget(timer: unknown): void {
  if (typeof timer === "object" && timer !== null) {
    (timer as Owned)[kOwner]?.timerDone(timer as Timer);
  } else if (typeof timer === "number" || typeof timer === "string") {
    // A timer passed by its primitive id (`+timer`): look among the caller's own.
    currentIncarnation()?.timerDoneById(Number(timer));
  }
}

function trackedClearTimeout(timer: unknown): void {
  forget(timer);
  native!.clearTimeout(timer as Timer);
}

function trackedClearInterval(timer: unknown): void {
  forget(timer);
  native!.clearInterval(timer as Timer);
}

/**
 * Starts following the timers of object code (the runtime calls it once per
 * runtime; the returned function undoes it when the last runtime closes).
 */
export function followObjectTimers(): () => void {
  if (installs++ === 0) {
    native = {
      setTimeout: globalThis.setTimeout,
      setInterval: globalThis.setInterval,
      clearTimeout: globalThis.clearTimeout,
      clearInterval: globalThis.clearInterval,
    };
    // util.promisify(setTimeout) keeps working (it reads this property).
    const custom = (native.setTimeout as unknown as Record<symbol, unknown>)[promisify.custom];
    if (custom !== undefined) (trackedSetTimeout as unknown as Record<symbol, unknown>)[promisify.custom] = custom;
    globalThis.setTimeout = trackedSetTimeout as typeof setTimeout;
    globalThis.setInterval = trackedSetInterval as typeof setInterval;
    globalThis.clearTimeout = trackedClearTimeout as typeof clearTimeout;
    globalThis.clearInterval = trackedClearInterval as typeof clearInterval;
  }
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    if (--installs > 0 || native === null) return;
    // Put back only what is still ours (a test's fake timers may have replaced them since).
    if (globalThis.setTimeout === (trackedSetTimeout as unknown)) globalThis.setTimeout = native.setTimeout;
    if (globalThis.setInterval === (trackedSetInterval as unknown)) globalThis.setInterval = native.setInterval;
    if (globalThis.clearTimeout === (trackedClearTimeout as unknown)) globalThis.clearTimeout = native.clearTimeout;
    if (globalThis.clearInterval === (trackedClearInterval as unknown)) globalThis.clearInterval = native.clearInterval;
  };
}

/** Cancels `timer` with the platform's clearTimeout (a reset cancelling the discarded instance's timers). */
export function cancelTimer(timer: Timer): void {
  (native?.clearTimeout ?? clearTimeout)(timer);
}
