import { readD1Migrations, torpor } from "@torpor/testing/vitest";
import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../../../vitest.summary-reporter.ts";

// The plugin's own suite, on the workspace's vitest (3.2); examples/vitest-migration runs vitest 4.1.
export default defineConfig(async () => {
  // As Cloudflare's integration documents it: migrations read here, applied by the tests with applyD1Migrations().
  const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);
  return {
    plugins: [torpor({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings: { TEST_MIGRATIONS: migrations } } })],
    test: {
      include: ["test/**/*.test.ts"],
      reporters: ["default", new SummaryLineReporter()],
    },
  };
});
