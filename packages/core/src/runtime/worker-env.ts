/**
 * The current Worker `env` and `exports`, shared by whoever runs the Worker
 * (the CLI, a test plugin: they set them) and the `cloudflare:workers`
 * module (whose `env` and `exports` read them), kept out of that module so
 * Worker code sees only Cloudflare's names.
 */
let currentEnv: Record<string, unknown> = {};
let currentExports: Record<string, unknown> = {};

/**
 * The env and exports of the other Workers of one process (`torpor dev -c a -c b`: every config
 * after the first), by scope. Their modules are loaded apart (the CLI's resolve hook tags them), and
 * their `cloudflare:workers` reads its scope's record here rather than the first Worker's.
 */
const scopes = new Map<string, { env: Record<string, unknown>; exports: Record<string, unknown> }>();

function scope(name: string): { env: Record<string, unknown>; exports: Record<string, unknown> } {
  let found = scopes.get(name);
  if (found === undefined) scopes.set(name, (found = { env: {}, exports: {} }));
  return found;
}

/** @internal Replaces the env the `cloudflare:workers` `env` export reflects (of the Worker loaded in `scopeName`, if given). */
export function setWorkerEnv(env: Record<string, unknown>, scopeName?: string): void {
  if (scopeName === undefined) currentEnv = env;
  else scope(scopeName).env = env;
}

/** @internal Replaces what the `cloudflare:workers` `exports` export reflects (usually `runtime.exports`; of the Worker loaded in `scopeName`, if given). */
export function setWorkerExports(exports: Record<string, unknown>, scopeName?: string): void {
  if (scopeName === undefined) currentExports = exports;
  else scope(scopeName).exports = exports;
}

/** @internal Live views of one scope's env and exports (what its `cloudflare:workers` exports). */
export function scopedWorkerEnv(scopeName: string): { env: Record<string, unknown>; exports: Record<string, unknown> } {
  return { env: liveView(() => scope(scopeName).env), exports: liveView(() => scope(scopeName).exports) };
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
