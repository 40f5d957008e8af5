/**
 * The current Worker `env`, shared by the CLI (which sets it) and the
 * `cloudflare:workers` module (whose `env` export reads it), kept out of
 * that module so Worker code sees only Cloudflare's names.
 */
let current: Record<string, unknown> = {};

/** @internal Replaces the env the `cloudflare:workers` `env` export reflects. */
export function setWorkerEnv(env: Record<string, unknown>): void {
  current = env;
}

/** A live view of the current env: reads always see the latest `setWorkerEnv`. */
export const liveEnv: Record<string, unknown> = new Proxy({} as Record<string, unknown>, {
  get: (_target, key) => (typeof key === "string" ? current[key] : undefined),
  has: (_target, key) => key in current,
  ownKeys: () => Reflect.ownKeys(current),
  getOwnPropertyDescriptor: (_target, key) => {
    const descriptor = Reflect.getOwnPropertyDescriptor(current, key);
    // Proxy invariants: a property reported here must be configurable, as the target has none.
    return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
  },
  set: () => false,
  defineProperty: () => false,
  deleteProperty: () => false,
});
