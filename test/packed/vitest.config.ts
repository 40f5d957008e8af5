import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../../vitest.summary-reporter.ts";

export default defineConfig({
  test: {
    include: ["packed.test.ts"],
    // One user's session, step by step: build, pack, install, test, type-check, serve.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    setupFiles: ["../../vitest.setup.ts"],
    reporters: ["default", new SummaryLineReporter()],
  },
});
