import { defineConfig } from "vitest/config";

// The differential test only (pnpm test:compat); the root config does not include compat/.
export default defineConfig({
  resolve: { conditions: ["@torpor/source"] },
  ssr: { resolve: { conditions: ["@torpor/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
