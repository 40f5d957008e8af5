import { existsSync } from "node:fs";
import { installGlobals, type DurableObjectClass, type ExecutionContext, type Logger, type Runtime, type WorkerFetch } from "@torpor/core";
import { WorkerEntrypoint } from "@torpor/core/cloudflare/workers";
import type { CacheStorage } from "@torpor/bindings/cache";
import { HTMLRewriter } from "@torpor/bindings/html-rewriter";
import type { DurableObjectBinding } from "./config.ts";
import { CliError } from "./errors.ts";
import type { ModuleRules } from "./module-rules.ts";
import { scheduler } from "./scheduler.ts";
import { bundleWorker, importBundle, inheritedBundle } from "./worker-bundle.ts";
import { serviceBinding, type EntrypointClass as ServiceEntrypoint, type ServiceRegistry, type ServiceTarget } from "./service-binding.ts";

/** A loaded Worker: its fetch handler (if any), a class per binding, and its named entrypoint classes. */
export interface LoadedWorker {
  fetch: WorkerFetch | undefined;
  objects: Record<string, DurableObjectClass>;
  /** Exported classes extending WorkerEntrypoint, by export name (not the default). */
  entrypoints: Record<string, EntrypointClass>;
  /** The module's default export as it is (a handlers object or a WorkerEntrypoint class), for RPC. */
  defaultExport: unknown;
}

/**
 * Installs what Workers code expects globally: core's `WebSocketPair`,
 * `WebSocketRequestResponsePair` and 101-capable `Response`, `scheduler.wait(ms)`, `HTMLRewriter`,
 * and `caches` (the Cache API on the data directory's files).
 * Runs before the entry is imported, so module-level code sees them too.
 */
export function installWorkerGlobals(caches: CacheStorage): void {
  installGlobals();
  const g = globalThis as Record<string, unknown>;
  g.scheduler ??= scheduler;
  g.HTMLRewriter ??= HTMLRewriter;
  // Replaced on each call: a test file or a restarted Worker has its own data directory.
  g.caches = caches;
}

/**
 * Imports the entry module and finds the fetch handler and every bound class. A `scope` loads
 * it apart (another Worker of this process: its own module instances and cloudflare:workers env).
 * The entry is imported as one bundle (worker-bundle.ts): the one the supervisor built for this
 * process if it handed one down, else one built here.
 */
export async function loadWorker(
  entry: string,
  bindings: DurableObjectBinding[],
  logger: Logger,
  options: { moduleRules: ModuleRules; scope?: string },
): Promise<LoadedWorker> {
  if (!existsSync(entry))
    throw new CliError("ERR_ENTRY_NOT_FOUND", `The Worker entry ${entry} does not exist. Check "main" in the config or the entry argument.`);
  const { scope } = options;
  const bundle = inheritedBundle(entry, scope) ?? (await bundleWorker(entry, { moduleRules: options.moduleRules, ...(scope !== undefined ? { scope } : {}) }));
  let mod: Record<string, unknown>;
  try {
    mod = await importBundle(bundle);
  } catch (cause) {
    throw new CliError("ERR_ENTRY_LOAD", `Loading the Worker entry ${entry} failed: ${(cause as Error)?.stack ?? String(cause)}`, { cause });
  }
  return workerFromModule(mod, entry, bindings, logger);
}

/**
 * Finds the fetch handler and every bound class in an imported entry module
 * (the CLI imports it with Node; @torpor/testing's vitest plugin through Vite).
 */
export function workerFromModule(mod: Record<string, unknown>, entry: string, bindings: DurableObjectBinding[], logger: Logger): LoadedWorker {
  const objects: Record<string, DurableObjectClass> = {};
  for (const { name, className } of bindings) {
    const cls = mod[className];
    if (typeof cls !== "function") {
      const classes = Object.keys(mod).filter((k) => typeof mod[k] === "function" && k !== "default");
      throw new CliError(
        "ERR_CLASS_NOT_EXPORTED",
        `The binding ${name} uses class "${className}", but ${entry} does not export it${classes.length > 0 ? ` (its exported classes and functions: ${classes.join(", ")})` : ""}. Add \`export class ${className} extends DurableObject\` or fix "class_name".`,
      );
    }
    objects[name] = cls as DurableObjectClass;
  }
  const entrypoints: Record<string, EntrypointClass> = {};
  for (const [name, value] of Object.entries(mod)) {
    if (name !== "default" && typeof value === "function" && value.prototype instanceof WorkerEntrypoint) entrypoints[name] = value as EntrypointClass;
  }
  return { fetch: fetchHandler(mod.default, entry, logger), objects, entrypoints, defaultExport: mod.default };
}

type EntrypointClass = new (ctx: ExecutionContext, env: Record<string, unknown>) => { fetch?: (request: Request) => Response | Promise<Response> };

/**
 * `ctx.exports` entries for the Worker's entrypoints, as on Cloudflare: a
 * service binding to the Worker itself for `default` and for each named
 * entrypoint class (fetch and RPC, as env.<service binding> of another Worker).
 */
export function entrypointExports(worker: LoadedWorker, services: ServiceRegistry, name: string): Record<string, unknown> {
  const exports: Record<string, unknown> = {};
  if (worker.fetch !== undefined || typeof worker.defaultExport === "function") exports.default = serviceBinding(services, name, undefined);
  for (const entrypoint of Object.keys(worker.entrypoints)) exports[entrypoint] = serviceBinding(services, name, entrypoint);
  return exports;
}

/** What service bindings call in this Worker: its runtime, default export and named entrypoints. */
export function serviceTarget(worker: LoadedWorker, runtime: Runtime): ServiceTarget {
  const defaultExport = worker.defaultExport;
  return {
    runtime,
    defaultExport:
      typeof defaultExport === "function" || (typeof defaultExport === "object" && defaultExport !== null)
        ? (defaultExport as ServiceTarget["defaultExport"])
        : undefined,
    entrypoints: worker.entrypoints as Record<string, ServiceEntrypoint>,
  };
}

/** `export default { fetch }` or `export default class extends WorkerEntrypoint { fetch }`. */
function fetchHandler(entrypoint: unknown, entry: string, logger: Logger): WorkerFetch | undefined {
  if (typeof entrypoint === "function" && typeof (entrypoint as { prototype?: { fetch?: unknown } }).prototype?.fetch === "function") {
    const Cls = entrypoint as EntrypointClass;
    // One instance per request, as Cloudflare does for entrypoint classes.
    return (request, env, ctx) => new Cls(ctx, env).fetch!(request);
  }
  if (typeof entrypoint === "object" && entrypoint !== null && typeof (entrypoint as { fetch?: unknown }).fetch === "function") {
    const handlers = entrypoint as { fetch: WorkerFetch; scheduled?: unknown; queue?: unknown };
    for (const other of ["scheduled", "queue", "email", "tail"] as const) {
      if (typeof (handlers as Record<string, unknown>)[other] === "function")
        logger.warn(`The Worker's ${other}() handler is never called: Torpor serves fetch only.`);
    }
    return (request, env, ctx) => handlers.fetch(request, env, ctx);
  }
  logger.warn(`${entry} has no default export with a fetch() handler; requests are routed as /<BINDING>/<name>/… to the objects.`);
  return undefined;
}
