// Shared by the library apps (each package runs `vitest run --config ../vitest.config.ts --root .`).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import SummaryLineReporter from "../../vitest.summary-reporter.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 60_000,
    setupFiles: [fileURLToPath(new URL("../../vitest.setup.ts", import.meta.url))],
    reporters: ["default", new SummaryLineReporter()],
  },
});
