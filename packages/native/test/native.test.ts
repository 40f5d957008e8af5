/** The loader (src/index.ts): where the addon is not there, each capability says why instead of throwing. */
import { expect, it } from "vitest";
import { loadNative } from "../src/index.ts";

it("a build that is not there is reported for each capability, not thrown", () => {
  const { fdPassing, mallocTrim } = loadNative("../build/Release/not-built.node");
  for (const loaded of [fdPassing, mallocTrim]) {
    expect(loaded.ok).toBe(false);
    // One line, for the line a server logs at start.
    if (!loaded.ok) expect(loaded.error.message).toMatch(/^@torpor\/native is not built or does not load \(Cannot find module '[^\n]*'\)$/);
  }
});
