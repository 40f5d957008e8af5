// CI entry (`pnpm test:ci`): runs the same test/ on Cloudflare's integration
// (workerd) and on Torpor's plugin, then prints one closing line adding up
// both runs' "Tests: N passed, N failed" lines (see scripts/test.mjs).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const runs = [
  ["Cloudflare's integration (workerd)", "test:cloudflare"],
  ["Torpor's plugin", "test:torpor"],
];
const totals = { passed: 0, failed: 0 };
let failedRuns = 0;
for (const [label, script] of runs) {
  process.stdout.write(`\n--- ${label}: pnpm ${script} ---\n`);
  const child = spawn("pnpm", ["run", "--silent", script, "--reporter=default", "--reporter=../../vitest.summary-reporter.ts"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let summary = null;
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^Tests: (\d+) passed, (\d+) failed/.exec(line);
    if (match) summary = match;
    // Renamed, so that only the combined line below reads "Tests: …".
    process.stdout.write(`${match ? line.replace(/^Tests: /, `${script}: `) : line}\n`);
  }
  const code = child.exitCode ?? (await new Promise((resolve) => child.on("close", resolve)));
  totals.passed += Number(summary?.[1] ?? 0);
  totals.failed += Number(summary?.[2] ?? 0);
  if (code !== 0) failedRuns++;
  if (code !== 0 && (summary === null || summary[2] === "0")) totals.failed++;
}
process.stdout.write(`\nTests: ${totals.passed} passed, ${totals.failed} failed\n`);
process.exit(failedRuns > 0 ? 1 : 0);
