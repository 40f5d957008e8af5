// Starts the bindings probe Worker (bindings/worker.js) on workerd (through
// miniflare, its KV/D1/R2 in memory) and on Torpor (through the CLI's
// `torpor dev` path, reading bindings/wrangler.jsonc, its data in a fresh
// directory), for test/bindings.test.ts.
import { fileURLToPath } from "node:url";
import { startMiniflare, startTorporDevInProcess, type Target } from "./harness.ts";

export const bindingsConfigPath = fileURLToPath(new URL("../bindings/wrangler.jsonc", import.meta.url));

/** The probe's bindings as miniflare options, read from the same wrangler.jsonc Torpor reads. */
async function miniflareBindings(): Promise<Record<string, unknown>> {
  const { readConfig } = await import("@torpor/cli");
  const config = readConfig(bindingsConfigPath);
  const kv = (config.bindingConfig.kv_namespaces ?? []) as Array<{ binding: string; id?: string }>;
  const d1 = (config.bindingConfig.d1_databases ?? []) as Array<{ binding: string; database_id?: string }>;
  const r2 = (config.bindingConfig.r2_buckets ?? []) as Array<{ binding: string; bucket_name?: string }>;
  return {
    kvNamespaces: Object.fromEntries(kv.map((k) => [k.binding, k.id ?? k.binding])),
    d1Databases: Object.fromEntries(d1.map((d) => [d.binding, d.database_id ?? d.binding])),
    r2Buckets: Object.fromEntries(r2.map((b) => [b.binding, b.bucket_name ?? b.binding])),
  };
}

/** workerd via miniflare, at the config's compatibility date. */
export async function startWorkerdBindings(): Promise<Target> {
  return startMiniflare({
    scriptPath: fileURLToPath(new URL("../bindings/worker.js", import.meta.url)),
    compatibilityDate: "2026-04-07",
    ...(await miniflareBindings()),
  });
}

/** Torpor as `torpor dev -c bindings/wrangler.jsonc --port 0 --persist-to <fresh dir>` runs it. */
export function startTorporBindings(): Promise<Target> {
  return startTorporDevInProcess(bindingsConfigPath, "torpor-compat-bindings-");
}

/** GET a route; its JSON body (or its text when not JSON) and status. */
export async function getRoute(base: string, path: string): Promise<unknown> {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, text };
  }
}
