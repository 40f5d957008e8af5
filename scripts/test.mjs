// The README's test command. Runs every suite of the workspace: first each
// workspace package's own `test:ci` script (suites that need their own vitest
// config or version: the workerd differential suite, the library apps, the
// packed-tarball check...), then the root vitest suite. Ends with one closing
// line that adds up the "Tests: N passed, N failed" lines the suites print.
//
// `pnpm test <vitest args>` runs only the root suite with those arguments.
import { spawn, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(label, command, commandArgs, cwd) {
  return new Promise((resolve) => {
    process.stdout.write(`\n=== ${label} ===\n`);
    const child = spawn(command, commandArgs, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    let tail = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4096);
    });
    child.on("close", (code, signal) => {
      const summary = /^Tests: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/m.exec(tail);
      if (summary) {
        totals.passed += Number(summary[1]);
        totals.failed += Number(summary[2]);
        totals.skipped += Number(summary[3] ?? 0);
      }
      if (code !== 0) {
        failures.push(`${label} (exit ${code ?? signal})`);
        if (!summary || summary[2] === "0") totals.failed += 1;
      }
      resolve();
    });
  });
}

if (args.length === 0) {
  const projects = JSON.parse(execFileSync("pnpm", ["ls", "-r", "--depth", "-1", "--json"], { encoding: "utf8" }));
  for (const project of projects) {
    if (project.path === process.cwd()) continue;
    const manifest = JSON.parse(readFileSync(join(project.path, "package.json"), "utf8"));
    if (manifest.scripts?.["test:ci"]) await run(project.name, "pnpm", ["run", "test:ci"], project.path);
  }
}
await run("root suite (vitest.config.ts)", "pnpm", ["exec", "vitest", "run", ...args], process.cwd());

if (failures.length > 0) process.stdout.write(`\nFailed suites: ${failures.join(", ")}\n`);
const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : "";
process.stdout.write(`\nAll suites: ${totals.passed} passed, ${totals.failed} failed${skipped}\n`);
process.exit(failures.length > 0 ? 1 : 0);
