import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { installGlobals, type DurableObjectClass, type ExecutionContext, type Logger, type WorkerFetch } from "@torpor/core";
import type { DurableObjectBinding } from "./config.ts";
import { CliError } from "./errors.ts";
import { scheduler } from "./scheduler.ts";

/** A loaded Worker: its fetch handler (if any) and a class per binding. */
export interface LoadedWorker {
  fetch: WorkerFetch | undefined;
  objects: Record<string, DurableObjectClass>;
}

const CACHES_MESSAGE =
  "The Cache API (caches) is not provided by Torpor: a self-hosted server has no edge cache. Put a caching reverse proxy in front, or keep the data in Durable Object storage.";

/**
 * Installs what Workers code expects globally: core's `WebSocketPair`,
 * `WebSocketRequestResponsePair` and 101-capable `Response`, `scheduler.wait(ms)`, and a `caches`
 * whose use throws a clear error (rather than "caches is not defined").
 * Runs before the entry is imported, so module-level code sees them too.
 */
export function installWorkerGlobals(): void {
  installGlobals();
  const g = globalThis as Record<string, unknown>;
  g.scheduler ??= scheduler;
  if (g.caches === undefined) {
    const unsupported = () => {
      throw new TypeError(CACHES_MESSAGE);
    };
    g.caches = Object.freeze({
      get default(): never {
        return unsupported();
      },
      open: unsupported,
    });
  }
}

/** Imports the entry module and finds the fetch handler and every bound class. */
export async function loadWorker(entry: string, bindings: DurableObjectBinding[], logger: Logger): Promise<LoadedWorker> {
  if (!existsSync(entry)) throw new CliError("ERR_ENTRY_NOT_FOUND", `The Worker entry ${entry} does not exist. Check "main" in the config or the entry argument.`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
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
  return { fetch: fetchHandler(mod.default, entry, logger), objects };
}

type EntrypointClass = new (ctx: ExecutionContext, env: Record<string, unknown>) => { fetch?: (request: Request) => Response | Promise<Response> };

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
      if (typeof (handlers as Record<string, unknown>)[other] === "function") logger.warn(`The Worker's ${other}() handler is never called: Torpor serves fetch only.`);
    }
    return (request, env, ctx) => handlers.fetch(request, env, ctx);
  }
  logger.warn(`${entry} has no default export with a fetch() handler; requests are routed as /<BINDING>/<name>/… to the objects.`);
  return undefined;
}
