/**
 * Setup module: `import "@torpor/testing/matchers"` (or list it in vitest's
 * `setupFiles`) to register `toBeHibernated()` / `toBeHibernatable()` and
 * their types.
 */
import { installMatchers } from "./matchers.ts";

export type { TorporMatchers } from "./matchers.ts";

installMatchers();
