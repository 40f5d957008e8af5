import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBindings, openCaches, type BoundValues, type CacheStorage } from "@torpor/bindings";
import {
  entrypointExports,
  installWorkerGlobals,
  runtimeLimits,
  ServiceRegistry,
  serviceEnv,
  serviceTarget,
  setWorkerEnv,
  setWorkerExports,
  UNNAMED,
  withAssets,
  workerFromModule,
} from "@torpor/cli";
import { systemClock, VirtualClock, type Clock } from "@torpor/core";
import { TestingError } from "../errors.ts";
import { recordingLogger } from "@torpor/core";
import { createTestRuntime, type TestRuntime } from "../test-runtime.ts";
import type { WorkerModuleConfig } from "./worker-config.ts";

/** The test runtime of the running test file, made from the wrangler config by the vitest plugin. */
export type WorkerRuntime = TestRuntime<Record<string, new (ctx: never, env: never) => object>, Clock>;

let current: WorkerRuntime | null = null;
/** This file's KV, D1, R2… and the directory holding their data (removed when the file's tests end). */
let bindings: { bound: BoundValues; caches: CacheStorage; dataDir: string } | null = null;

/**
 * The runtime behind `cloudflare:test` in this test file (with
 * `@torpor/testing/vitest`): its clock, logs, `connect`, `lifecycle`,
 * `hibernationBlockers` and the rest of Torpor's verbs. Each test file has
 * its own, with empty storage.
 *
 * @example
 * const t = workerRuntime();
 * expect(t.lifecycle(env.ROOM.getByName("lobby"))).toMatchObject({ state: "hibernated" });
 */
export function workerRuntime(): WorkerRuntime {
  if (current === null) {
    throw new TestingError(
      "ERR_TEST_CONTEXT",
      'No Worker runtime: workerRuntime() and cloudflare:test work in test files run with the torpor() vitest plugin (import { torpor } from "@torpor/testing/vitest").',
    );
  }
  return current;
}

/** @internal Starts this file's runtime (the plugin's setup file calls it before the file's tests). */
export async function startWorkerRuntime(config: WorkerModuleConfig, loadMain: () => Promise<unknown>): Promise<WorkerRuntime> {
  if (current !== null) return current;
  const loading = recordingLogger();
  const clock = (config.clock === "virtual" ? new VirtualClock() : systemClock) as Clock;
  // Each test file starts with empty KV namespaces, D1 databases, R2 buckets and caches, as with Cloudflare's integration.
  const dataDir = mkdtempSync(join(tmpdir(), "torpor-vitest-bindings-"));
  const caches = openCaches(dataDir, clock);
  installWorkerGlobals(caches);
  const bound = await createBindings(config.bindingConfig, { dataDir, configDir: config.configDir, logger: loading, clock });
  bindings = { bound, caches, dataDir };
  // Service bindings find the Worker at each call: to itself (and its entrypoints) once the runtime exists.
  const services = new ServiceRegistry();
  const env = { ...config.vars, ...bound.env, ...serviceEnv(config.services, services) };
  // Module-level code of the Worker may read env: vars and bindings now, namespaces once the runtime exists.
  setWorkerEnv({ ...env });
  const mod = (await loadMain()) as Record<string, unknown>;
  const worker = workerFromModule(mod, config.main, config.bindings, loading);
  // SELF goes where a request to the Worker goes: through its static assets first (as configured).
  const fetch = withAssets(bound.route, worker.fetch);
  const t = createTestRuntime({
    objects: worker.objects as Record<string, new (ctx: never, env: never) => object>,
    ...(fetch !== undefined ? { fetch: fetch as never } : {}),
    env,
    clock,
    ...runtimeLimits(config.limits),
    ...(config.compatibilityDate !== undefined ? { compatibilityDate: config.compatibilityDate } : {}),
    compatibilityFlags: config.compatibilityFlags,
    context: null,
  }) as WorkerRuntime;
  t.logs.unshift(...loading.entries);
  const name = config.name ?? UNNAMED;
  services.add(name, serviceTarget(worker, t.runtime));
  // ctx.exports and cloudflare:workers' exports: the entrypoints beside the Durable Object namespaces, as with torpor dev.
  Object.assign(t.runtime.exports, entrypointExports(worker, services, name));
  setWorkerEnv(t.runtime.env);
  setWorkerExports(t.runtime.exports);
  current = t;
  return t;
}

/** @internal Closes this file's runtime and removes its storage (after the file's tests). */
export async function closeWorkerRuntime(): Promise<void> {
  const t = current;
  current = null;
  setWorkerEnv({});
  setWorkerExports({});
  await t?.close();
  const b = bindings;
  bindings = null;
  if (b !== null) {
    await b.bound.close();
    b.caches.close();
    rmSync(b.dataDir, { recursive: true, force: true });
  }
}
