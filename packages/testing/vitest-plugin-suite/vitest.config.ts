import { torpor } from "@torpor/testing/vitest";
import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../../../vitest.summary-reporter.ts";

// The plugin's own suite, on the workspace's vitest (3.2); examples/vitest-migration runs vitest 4.1.
export default defineConfig({
  plugins: [torpor({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", new SummaryLineReporter()],
  },
});
