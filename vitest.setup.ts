import { afterEach, beforeEach } from "vitest";

// House rule: library code logs through its `logger` option, so any console
// output during a test is a bug (or an unasserted error) and fails the test.
const methods = ["log", "info", "warn", "error", "debug"] as const;
let seen: string[] = [];
const originals = new Map<string, (...args: unknown[]) => void>();

beforeEach(() => {
  seen = [];
  for (const m of methods) {
    originals.set(m, console[m]);
    console[m] = (...args: unknown[]) => {
      seen.push(`console.${m}: ${args.map(String).join(" ")}`);
      originals.get(m)!(...args);
    };
  }
});

afterEach(() => {
  for (const m of methods) console[m] = originals.get(m)! as (typeof console)[typeof m];
  if (seen.length > 0) throw new Error(`Unexpected console output during test:\n${seen.join("\n")}`);
});
