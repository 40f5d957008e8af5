/** Whether `value` has a `then` method, as `await` decides (an object or a function): awaiting it waits. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}
