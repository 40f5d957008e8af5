import { expect, it } from "vitest";
import { loadMallocTrim } from "../src/index.ts";

// The addon is built by the workspace's install (node-gyp), as CI installs it.
it("the addon loads and trims glibc's heap", () => {
  const trim = loadMallocTrim();
  expect(trim).toBeTypeOf("function");
  // Free pages inside the heap: many chunks allocated, every other one kept, the rest freed.
  const kept: Buffer[] = [];
  for (let i = 0; i < 2_000; i++) {
    const chunk = Buffer.allocUnsafeSlow(64 * 1024);
    if (i % 2 === 0) kept.push(chunk);
  }
  expect(typeof trim!()).toBe("boolean");
  expect(kept.length).toBe(1_000);
});
