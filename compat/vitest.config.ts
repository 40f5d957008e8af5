import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../vitest.summary-reporter.ts";

// The differential test only (pnpm test:compat, and test:ci in `pnpm test`);
// the root config does not include compat/.
export default defineConfig({
  // `cloudflare:workers` as the CLI's module hook maps it (test/rpc.test.ts runs `torpor dev` in this process, where vitest loads the Worker).
  resolve: { conditions: ["@torpor/source"], alias: { "cloudflare:workers": "@torpor/core/cloudflare/workers" } },
  ssr: { resolve: { conditions: ["@torpor/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ["default", new SummaryLineReporter()],
  },
});
