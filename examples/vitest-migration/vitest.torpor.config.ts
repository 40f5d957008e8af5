import { torpor } from "@torpor/testing/vitest";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [torpor({ wrangler: { configPath: "./wrangler.jsonc" } })],
});
