import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../vitest.summary-reporter.ts";

// The differential test only (pnpm test:compat, and test:ci in `pnpm test`);
// the root config does not include compat/.
export default defineConfig({
  resolve: { conditions: ["@torpor/source"] },
  ssr: { resolve: { conditions: ["@torpor/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ["default", new SummaryLineReporter()],
  },
});
