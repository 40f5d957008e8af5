// Differential test of the web APIs a Worker uses beside its bindings
// (HTMLRewriter, the Cache API): the same project (compat/web) on workerd
// through miniflare and on `torpor dev` reading its wrangler.jsonc. Each
// route's cases must be equal but for the known differences below (each
// names its row of docs/compatibility.md and pins both sides' values).
//
// Reading the observations by eye: compat/out/web-{workerd,torpor}.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMiniflare, type Target } from "./harness.ts";
import { startTorporDev } from "./torpor-dev.ts";

const project = fileURLToPath(new URL("../web/", import.meta.url));

interface KnownDifference {
  doc: string;
  route: string;
  label: string;
  workerd: unknown;
  torpor: unknown;
}

// biome-ignore format: one known difference per line
const KNOWN: KnownDifference[] = [
  // lol-html is built into html-rewriter-wasm for UTF-8 only: text handed in is written as UTF-8 whatever the document's charset.
  { doc: "HTMLRewriter", route: "html-rewriter", label: "non-UTF-8 document", workerd: [60, 112, 62, 233, 60, 47, 112, 62], torpor: [60, 112, 62, 195, 169, 60, 47, 112, 62] },
  // workerd's cache learns a body's length from the HTTP message it is sent: none for a stream. Torpor counts the bytes it stored and always says.
  { doc: "Cache API", route: "cache", label: "streamed body", workerd: { status: 200, headers: [["age", "<n>"], ["cache-control", "max-age=60"], ["cf-cache-status", "HIT"]], body: "ab" }, torpor: { status: 200, headers: [["age", "<n>"], ["cache-control", "max-age=60"], ["cf-cache-status", "HIT"], ["content-length", "2"]], body: "ab" } },
];

const ROUTES = ["html-rewriter", "cache"] as const;

function startWorkerd(): Promise<Target> {
  return startMiniflare({ scriptPath: `${project}worker.js`, compatibilityDate: "2026-04-07" });
}

async function observe(base: string): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const response = await fetch(`${base}/${route}`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${base}/${route}: ${response.status} ${text}`);
    out[route] = JSON.parse(text) as Record<string, unknown>;
  }
  return out;
}

let workerd: Target;
let torpor: Target;
const observed: Record<"workerd" | "torpor", Record<string, Record<string, unknown>>> = { workerd: {}, torpor: {} };

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerd(), startTorporDev(project)]);
  [observed.workerd, observed.torpor] = await Promise.all([observe(workerd.url), observe(torpor.url)]);
  const out = new URL("../out/", import.meta.url);
  mkdirSync(out, { recursive: true });
  for (const side of ["workerd", "torpor"] as const) writeFileSync(new URL(`web-${side}.json`, out), JSON.stringify(observed[side], null, 2));
}, 120_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

describe("web APIs on workerd and on torpor dev", () => {
  for (const route of ROUTES) {
    it(route, () => {
      const w = structuredClone(observed.workerd[route]!);
      const t = structuredClone(observed.torpor[route]!);
      for (const known of KNOWN.filter((k) => k.route === route)) {
        expect(w[known.label], `workerd at ${known.label} (${known.doc}): update or remove the KNOWN entry`).toEqual(known.workerd);
        expect(t[known.label], `torpor at ${known.label} (${known.doc}): update or remove the KNOWN entry`).toEqual(known.torpor);
        w[known.label] = t[known.label] = `<known: ${known.doc}>`;
      }
      expect(Object.keys(w).length).toBeGreaterThan(10);
      expect(t).toEqual(w);
    });
  }
});
