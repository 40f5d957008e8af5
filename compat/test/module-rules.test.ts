// Module rules: the same project (compat/module-rules: a .wasm, .bin, .txt, .html
// and, through the config's "rules", a .md import) on workerd through miniflare
// (the rules wrangler would give it) and on `torpor dev` reading its wrangler.jsonc.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Target } from "./harness.ts";
import { startTorporDev } from "./torpor-dev.ts";

const project = fileURLToPath(new URL("../module-rules/", import.meta.url));

async function startWorkerd(): Promise<Target> {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    // wrangler's default rules, with the config's Text rule for .md in front.
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "Text", include: ["**/*.md"], fallthrough: true },
      { type: "Text", include: ["**/*.txt", "**/*.html"] },
      { type: "Data", include: ["**/*.bin"] },
      { type: "CompiledWasm", include: ["**/*.wasm", "**/*.wasm?module"] },
    ],
    scriptPath: `${project}worker.js`,
    compatibilityDate: "2026-04-07",
    cf: false,
  });
  return { name: "workerd", url: String(await mf.ready).replace(/\/$/, ""), logs: [], stop: () => mf.dispose() };
}

let workerd: Target;
let torpor: Target;
const observed: Record<string, unknown> = {};

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerd(), startTorporDev(project)]);
  for (const side of [workerd, torpor]) {
    const response = await fetch(`${side.url}/`);
    observed[side.name] = { status: response.status, body: await response.text() };
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

it(".wasm, .bin, .txt, .html and a configured rule import the same on workerd and on torpor dev", () => {
  expect(observed.workerd).toMatchObject({ status: 200 });
  expect(JSON.parse((observed.workerd as { body: string }).body)).toMatchObject({ wasm: [true, [{ name: "add", kind: "function" }], 5] });
  expect(observed.torpor).toEqual(observed.workerd);
});
