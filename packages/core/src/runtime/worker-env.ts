/**
 * The current Worker `env` and `exports`, shared by whoever runs the Worker
 * (the CLI, a test plugin: they set them) and the `cloudflare:workers`
 * module (whose `env` and `exports` read them), kept out of that module so
 * Worker code sees only Cloudflare's names.
 */
let currentEnv: Record<string, unknown> = {};
let currentExports: Record<string, unknown> = {};

/** @internal Replaces the env the `cloudflare:workers` `env` export reflects. */
export function setWorkerEnv(env: Record<string, unknown>): void {
  currentEnv = env;
}

/** @internal Replaces what the `cloudflare:workers` `exports` export reflects (usually `runtime.exports`). */
export function setWorkerExports(exports: Record<string, unknown>): void {
  currentExports = exports;
}

/** A read-only view whose reads always see the latest record `current()` returns. */
function liveView(current: () => Record<string, unknown>): Record<string, unknown> {
  return new Proxy({} as Record<string, unknown>, {
    get: (_target, key) => (typeof key === "string" ? current()[key] : undefined),
    has: (_target, key) => key in current(),
    ownKeys: () => Reflect.ownKeys(current()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(current(), key);
      // Proxy invariants: a property reported here must be configurable, as the target has none.
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}

/** A live view of the current env: reads always see the latest `setWorkerEnv`. */
export const liveEnv: Record<string, unknown> = liveView(() => currentEnv);

/** A live view of the current exports: reads always see the latest `setWorkerExports`. */
export const liveExports: Record<string, unknown> = liveView(() => currentExports);
