// Service bindings and several Workers in one process: the same three Workers
// (compat/services: a calls b's default and named entrypoints, c's object
// export, and itself) on workerd through miniflare's `workers` list, and on
// `torpor dev -c a.jsonc -c b.jsonc -c c.jsonc` as wrangler dev takes them.
// Each case must be equal but for the known differences below (each names its
// row of docs/compatibility.md and pins both sides' values).
//
// Reading the observations by eye: compat/out/services-{workerd,torpor}.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Target } from "./harness.ts";
import { startTorporDev } from "./torpor-dev.ts";

const project = fileURLToPath(new URL("../services/", import.meta.url));
const CONFIGS = ["a.jsonc", "b.jsonc", "c.jsonc"];

interface KnownDifference {
  doc: string;
  label: string;
  workerd: unknown;
  torpor: unknown;
}

// biome-ignore format: one known difference per line
const KNOWN: KnownDifference[] = [
];

/** The three Workers as miniflare options, read from the same configs torpor dev reads. */
async function startWorkerd(): Promise<Target> {
  const { Miniflare } = await import("miniflare");
  const { readConfig } = await import("@torpor/cli");
  const workers = CONFIGS.map((file) => {
    const config = readConfig(`${project}${file}`);
    return {
      name: config.name!,
      modules: true,
      scriptPath: config.main!,
      compatibilityDate: config.compatibilityDate!,
      bindings: config.vars as Record<string, string>,
      serviceBindings: Object.fromEntries(
        (config.services ?? []).map((s) => [s.binding, s.entrypoint === undefined ? s.service : { name: s.service, entrypoint: s.entrypoint }]),
      ),
      durableObjects: Object.fromEntries(config.bindings.map((b) => [b.name, { className: b.className, useSQLite: true }])),
    };
  });
  const mf = new Miniflare({ cf: false, workers });
  const url = String(await mf.ready).replace(/\/$/, "");
  return { name: "workerd", url, logs: [], stop: () => mf.dispose() };
}

let workerd: Target;
let torpor: Target;
const observed: Record<"workerd" | "torpor", Record<string, unknown>> = { workerd: {}, torpor: {} };

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([
    startWorkerd(),
    // One process (--no-watch): svc-b binds Durable Objects, which only the first Worker may under dev's reloading supervisor.
    startTorporDev(project, ["--no-watch", ...CONFIGS.flatMap((c) => ["-c", c])]),
  ]);
  for (const side of [workerd, torpor]) {
    const response = await fetch(`${side.url}/`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${side.name}: ${response.status} ${text} ${side.logs.join("")}`);
    observed[side.name] = JSON.parse(text) as Record<string, unknown>;
  }
  const out = new URL("../out/", import.meta.url);
  mkdirSync(out, { recursive: true });
  for (const side of ["workerd", "torpor"] as const) writeFileSync(new URL(`services-${side}.json`, out), JSON.stringify(observed[side], null, 2));
}, 120_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

it("service bindings and several Workers answer the same on workerd and on torpor dev", () => {
  const w = structuredClone(observed.workerd);
  const t = structuredClone(observed.torpor);
  for (const known of KNOWN) {
    expect(w[known.label], `workerd at ${known.label} (${known.doc}): update or remove the KNOWN entry`).toEqual(known.workerd);
    expect(t[known.label], `torpor at ${known.label} (${known.doc}): update or remove the KNOWN entry`).toEqual(known.torpor);
    w[known.label] = t[known.label] = `<known: ${known.doc}>`;
  }
  expect(Object.keys(w).length).toBeGreaterThan(20);
  expect(t).toEqual(w);
});
