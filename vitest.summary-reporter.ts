import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one plain closing line ("Tests: N passed, N failed, N skipped")
 * after vitest's own summary, a format CI log readers recognise.
 */
export default class SummaryLineReporter implements Reporter {
  async onTestRunEnd(testModules: ReadonlyArray<TestModule>): Promise<void> {
    // Let the default reporter print its summary first.
    await new Promise((resolve) => setImmediate(resolve));
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      if (module.state() === "failed" && module.children.size === 0) failed++;
    }
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}\n`);
  }
}
