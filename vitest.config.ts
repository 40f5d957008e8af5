import { configDefaults, defineConfig } from "vitest/config";
import SummaryLineReporter from "./vitest.summary-reporter.ts";

export default defineConfig({
  resolve: { conditions: ["@torpor/source"] },
  ssr: { resolve: { conditions: ["@torpor/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    // Runs on vitest 4.1 with its own configs (Cloudflare's integration and Torpor's plugin), as its test:ci.
    exclude: [...configDefaults.exclude, "examples/vitest-migration/**"],
    pool: "forks",
    poolOptions: { forks: { execArgv: ["--expose-gc"] } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ["./vitest.setup.ts"],
    reporters: ["default", new SummaryLineReporter()],
  },
});
