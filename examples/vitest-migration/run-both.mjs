// CI entry (`pnpm test:ci`): runs the same test/ on Cloudflare's integration
// (workerd) and on Torpor's plugin, then prints one closing line adding up
// both runs' "Tests: N passed, N failed" lines (see scripts/test.mjs).
import { spawn } from "node:child_process";

const runs = [
  ["Cloudflare's integration (workerd)", "test:cloudflare"],
  ["Torpor's plugin", "test:torpor"],
];
const totals = { passed: 0, failed: 0 };
let failedRuns = 0;
for (const [label, script] of runs) {
  process.stdout.write(`\n--- ${label}: pnpm ${script} ---\n`);
  const child = spawn("pnpm", ["run", "--silent", script, "--reporter=default", "--reporter=../../vitest.summary-reporter.ts"], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
    // The per-run line is renamed so only the combined line below matches "Tests: …".
    process.stdout.write(String(chunk).replace(/^Tests: /m, `${script}: `));
  });
  const code = await new Promise((resolve) => child.on("close", resolve));
  const summary = /^Tests: (\d+) passed, (\d+) failed/m.exec(output);
  totals.passed += Number(summary?.[1] ?? 0);
  totals.failed += Number(summary?.[2] ?? 0);
  if (code !== 0) failedRuns++;
  if (code !== 0 && (summary === null || summary[2] === "0")) totals.failed++;
}
process.stdout.write(`\nTests: ${totals.passed} passed, ${totals.failed} failed\n`);
process.exit(failedRuns > 0 ? 1 : 0);
