/** The loader (src/index.ts): where the addon is not there, each capability says why instead of throwing. */
import { expect, it } from "vitest";
import { loadNative } from "../src/index.ts";

it("a build that is not there is reported for each capability, not thrown", () => {
  const { fdPassing, mallocTrim } = loadNative("../build/Release/not-built.node");
  for (const loaded of [fdPassing, mallocTrim]) {
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.error.message).toMatch(/Cannot find module/);
  }
});
