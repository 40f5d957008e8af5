// A whole project of compat/ run on workerd (through miniflare) and on `torpor dev` side by side, for a test
// file whose cases compare what the two did.
import { afterAll, beforeAll } from "vitest";
import { startMiniflare, type Target } from "./harness.ts";
import { startTorporDev } from "./torpor-dev.ts";

/** Both runtimes, once the file's `beforeAll` has started them. */
export interface SideBySide {
  readonly workerd: Target;
  readonly torpor: Target;
}

/**
 * Starts `<project>/worker.js` on workerd with `options` (its compatibility
 * date, Durable Object classes) and the same project under `torpor dev`
 * before the file's tests, and stops both after them.
 */
export function sideBySide(project: string, options: Record<string, unknown>): SideBySide {
  const started: { workerd?: Target; torpor?: Target } = {};
  beforeAll(async () => {
    [started.workerd, started.torpor] = await Promise.all([startMiniflare({ scriptPath: `${project}worker.js`, ...options }), startTorporDev(project)]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([started.workerd?.stop(), started.torpor?.stop()]);
  });
  return {
    get workerd() {
      return started.workerd!;
    },
    get torpor() {
      return started.torpor!;
    },
  };
}
