import { Runtime, silentLogger, type RuntimeOptions } from "@torpor/core";
import { describe, expect, it } from "vitest";
import { parseCliArgs } from "./args.ts";
import { validateConfig } from "./config.ts";
import { defaultOf, HELP } from "./help.ts";
import { configKeyOf, flagOf, inProcessLimits, LIMITS, mergeLimits, runtimeLimits, type LimitRow } from "./limits.ts";

const minimal = { main: "src/index.ts", compatibility_date: "2025-06-01" };

/** The options a Runtime resolved (its defaults applied) from `options`. */
async function resolved(options: Partial<RuntimeOptions>): Promise<Runtime["options"]> {
  const runtime = new Runtime({ objects: {}, installGlobals: false, logger: silentLogger, ...options });
  await runtime.close();
  return runtime.options;
}
const rows = LIMITS as readonly LimitRow[];

function usage(argv: string[]): string {
  try {
    parseCliArgs(argv);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

describe("the limits table", () => {
  it.each(rows.map((row) => [row.name, row] as const))("%s: its flag and its config key reach the Runtime option of that name", async (name, row) => {
    // A value no default has, above the row's minimum and under its ceiling.
    const value = Math.min(row.max?.value ?? 7_777, 7_777);
    const fromFlag = parseCliArgs(["dev", `--${flagOf(row)}`, String(value)]);
    const fromConfig = validateConfig({ ...minimal, torpor: { [configKeyOf(row)]: value } }, "/w.json").torpor;
    expect(fromFlag[name as keyof typeof fromFlag]).toBe(value);
    expect(fromConfig[name as keyof typeof fromConfig]).toBe(value);
    // The flag wins over the config; either way the Runtime reads it where the row says.
    const options = await resolved(runtimeLimits(mergeLimits(fromFlag, { [name]: value + 1 })));
    const where = (row.group === "runtime" ? options : row.group === "limits" ? options.limits : options.server) as unknown as Record<string, number>;
    expect(where[name]).toBe(value);
    // What the test runtime takes: the limits of one process only.
    expect(name in inProcessLimits(fromConfig)).toBe(row.inProcess);
  });

  it.each(rows.map((row) => [row.name, row] as const))("%s: below its minimum or above its ceiling is refused by the flag and the config", (_name, row) => {
    const flag = `--${flagOf(row)}`;
    expect(usage(["dev", `${flag}=${row.min - 1}`])).toBe(`${flag} must be at least ${row.min}; got "${row.min - 1}".`);
    expect(() => validateConfig({ ...minimal, torpor: { [configKeyOf(row)]: row.min - 1 } }, "/w.json")).toThrow(`"torpor.${configKeyOf(row)}"`);
    if (row.max !== undefined) {
      expect(usage(["dev", `${flag}=${row.max.value + 1}`])).toBe(`${flag} must be at most ${row.max.value} (${row.max.why}); got "${row.max.value + 1}".`);
      expect(() => validateConfig({ ...minimal, torpor: { [configKeyOf(row)]: row.max!.value + 1 } }, "/w.json")).toThrow(row.max.why);
    }
  });

  it("--help lists each limit with core's default", async () => {
    const defaults = await resolved({});
    expect(defaultOf(rows.find((r) => r.name === "maxConnections")!)).toBe(defaults.server.maxConnections);
    expect(defaultOf(rows.find((r) => r.name === "maxMessageBytes")!)).toBe(defaults.limits.maxMessageBytes);
    expect(defaultOf(rows.find((r) => r.name === "hibernateAfterMs")!)).toBe(defaults.hibernateAfterMs);
    const text = HELP.replace(/\n {30,}/g, " ");
    for (const row of rows) expect(text).toMatch(new RegExp(`--${flagOf(row)} <(ms|n)> +[^\\n]*\\(default ${defaultOf(row)}[,)]`));
  });
});
