import { expect } from "vitest";
import type { DurableObjectStub } from "@torpor/core";
import { hostFromStub } from "./host.ts";
import { blockersOf, lifecycleOf } from "./lifecycle.ts";

/** The matchers `installMatchers()` adds to `expect`. */
export interface TorporMatchers<R = unknown> {
  /** The object behind the stub has no live instance (it hibernated or was evicted). */
  toBeHibernated(): R;
  /** Nothing pins the object: it could hibernate now (or already has). Fails listing the blockers. */
  toBeHibernatable(): R;
}

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: declaration merging must repeat vitest's own signature
  interface Assertion<T = any> extends TorporMatchers<T> {}
  interface AsymmetricMatchersContaining extends TorporMatchers {}
}

let installed = false;

/**
 * Adds `toBeHibernated()` and `toBeHibernatable()` to vitest's `expect`
 * (idempotent). Or list `@torpor/testing/matchers` in `setupFiles`.
 *
 * @example
 * installMatchers();
 * await t.evictDurableObject(stub);
 * expect(stub).toBeHibernated();
 */
export function installMatchers(): void {
  if (installed) return;
  installed = true;
  expect.extend({
    toBeHibernated(received: DurableObjectStub<object>) {
      const info = lifecycleOf(hostFromStub(received));
      const name = describe(received);
      return {
        pass: info.state === "hibernated",
        message: () =>
          info.state === "hibernated"
            ? `expected ${name} not to be hibernated, but it has no live instance (evicted ${info.evicted} time(s))`
            : `expected ${name} to be hibernated, but it is live (constructed ${info.constructed}, evicted ${info.evicted}); blockers: ${blockersOf(hostFromStub(received)).join("; ") || "none"}`,
      };
    },
    toBeHibernatable(received: DurableObjectStub<object>) {
      const blockers = blockersOf(hostFromStub(received));
      const name = describe(received);
      return {
        pass: blockers.length === 0,
        message: () =>
          blockers.length === 0
            ? `expected ${name} not to be hibernatable, but nothing pins it`
            : `expected ${name} to be hibernatable, but: ${blockers.join("; ")}`,
      };
    },
  });
}

function describe(stub: DurableObjectStub<object>): string {
  return stub.id.name === undefined ? `object ${stub.id.toString().slice(0, 12)}…` : `object "${stub.id.name}"`;
}
