import { expect, it } from "vitest";
import { loadNative } from "../src/index.ts";

// The addon is built by the workspace's install (node-gyp), as CI installs it.
it("the addon loads and trims glibc's heap", () => {
  const loaded = loadNative().mallocTrim;
  expect(loaded.ok ? null : loaded.error.message).toBeNull();
  if (!loaded.ok) return;
  // Free pages inside the heap: many chunks allocated, every other one kept, the rest freed.
  const kept: Buffer[] = [];
  for (let i = 0; i < 2_000; i++) {
    const chunk = Buffer.allocUnsafeSlow(64 * 1024);
    if (i % 2 === 0) kept.push(chunk);
  }
  expect(typeof loaded.binding.trim()).toBe("boolean");
  expect(kept.length).toBe(1_000);
});
