import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../../vitest.summary-reporter.ts";

export default defineConfig({
  resolve: { conditions: ["@torpor/source"] },
  ssr: { resolve: { conditions: ["@torpor/source"] } },
  test: {
    include: ["src/**/*.test.ts"],
    // The schedule runs real processes for about two and a half minutes; the checker's unit tests are fast.
    testTimeout: 240_000,
    hookTimeout: 60_000,
    setupFiles: ["../../vitest.setup.ts"],
    reporters: ["default", new SummaryLineReporter()],
  },
});
