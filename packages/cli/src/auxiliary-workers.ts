import { dirname, join, resolve } from "node:path";
import { boundNames, createBindings, storageName, type BoundValues } from "@torpor/bindings/plugins";
import { Runtime, setWorkerEnv, setWorkerExports, type Logger, type WorkerFetch } from "@torpor/core";
import { sqliteStorage } from "@torpor/storage-sqlite";
import { readConfig, type ServiceBindingConfig, type WorkerConfig } from "./config.ts";
import { CliError } from "./errors.ts";
import { serviceBinding, type ServiceRegistry } from "./service-binding.ts";
import { entrypointExports, loadWorker, serviceTarget } from "./worker-module.ts";

/** The Worker's fetch with static assets in front (or behind, as `assets.run_worker_first` says). */
export function withAssets(route: BoundValues["route"], workerFetch: WorkerFetch | undefined): WorkerFetch | undefined {
  if (route === undefined) return workerFetch;
  return (request, env, ctx) => route(request, workerFetch === undefined ? undefined : async (r) => workerFetch(r, env, ctx));
}

/** env.<binding> for each `services` entry of a config. */
export function serviceEnv(services: ServiceBindingConfig[] | undefined, registry: ServiceRegistry): Record<string, unknown> {
  return Object.fromEntries((services ?? []).map((s) => [s.binding, serviceBinding(registry, s.service, s.entrypoint)]));
}

/** Another Worker of this process, started for service bindings to call. */
export interface AuxiliaryWorker {
  name: string;
  runtime: Runtime;
  close(): Promise<void>;
}

/** The name a Worker is registered under when its config has none (nothing can bind to it by name). */
export const UNNAMED = "\0unnamed";

/**
 * Starts every Worker after the first of `torpor dev -c a -c b -c c` (wrangler dev's
 * multi-config): each with its own config's bindings and vars, its modules loaded apart
 * (its own module instances and `cloudflare:workers` env), its Durable Objects under
 * `<persist-to>/workers/<name>/do`, no port of its own. They are reachable through
 * service bindings (and their `ctx.exports`), by the config's `name`.
 */
export async function startAuxiliaryWorkers(
  paths: string[],
  options: { cwd: string; persistTo: string; logger: Logger; registry: ServiceRegistry; primary: WorkerConfig; cluster: boolean },
): Promise<AuxiliaryWorker[]> {
  const started: AuxiliaryWorker[] = [];
  const names = new Set([options.primary.name ?? UNNAMED]);
  try {
    for (const [i, path] of paths.entries()) {
      const config = readConfig(resolve(options.cwd, path));
      const file = config.path!;
      if (config.name === undefined) {
        throw new CliError("ERR_CONFIG_INVALID", `${file} has no "name": every Worker after the first needs one (service bindings call it by name).`);
      }
      if (names.has(config.name))
        throw new CliError("ERR_CONFIG_INVALID", `${file}: the name "${config.name}" is used by another config given; each Worker needs its own.`);
      names.add(config.name);
      if (config.main === undefined) throw new CliError("ERR_CONFIG_INVALID", `${file} has no "main"; every Worker needs its entry.`);
      if (options.cluster && config.bindings.length > 0) {
        throw new CliError(
          "ERR_CONFIG_INVALID",
          `${file}: the Worker "${config.name}" binds Durable Objects; in cluster mode only the first Worker's objects are placed across worker processes. Run it with --workers 1 (torpor dev: --no-watch, one process without reloads), or move the objects to the first Worker.`,
        );
      }
      for (const warning of config.warnings) options.logger.warn(warning);
      started.push(await startOne(config, String(i + 1), options));
    }
  } catch (error) {
    for (const worker of started.reverse()) await worker.close();
    throw error;
  }
  return started;
}

async function startOne(
  config: WorkerConfig,
  scope: string,
  options: { persistTo: string; logger: Logger; registry: ServiceRegistry },
): Promise<AuxiliaryWorker> {
  const name = config.name!;
  const logger = withWorker(options.logger, name);
  const bound = await createBindings(config.bindingConfig, { dataDir: options.persistTo, configDir: dirname(config.path!), logger });
  try {
    const env: Record<string, unknown> = { ...config.vars, ...bound.env, ...serviceEnv(config.services, options.registry) };
    for (const { name: binding, key } of boundNames(config.bindingConfig)) {
      if (binding in config.vars)
        throw new CliError("ERR_CONFIG_INVALID", `${config.path}: the name ${binding} is both a var and a binding of "${key}"; rename one.`);
    }
    setWorkerEnv({ ...env }, scope);
    const worker = await loadWorker(config.main!, config.bindings, logger, { moduleRules: config.moduleRules, scope });
    const fetch = withAssets(bound.route, worker.fetch);
    const runtime = new Runtime({
      objects: worker.objects,
      ...(fetch !== undefined ? { fetch } : {}),
      env,
      storage: sqliteStorage({ dir: join(options.persistTo, "workers", storageName(name), "do") }),
      logger,
      installGlobals: false,
    });
    options.registry.add(name, serviceTarget(worker, runtime));
    Object.assign(runtime.exports, entrypointExports(worker, options.registry, name));
    setWorkerEnv(runtime.env, scope);
    setWorkerExports(runtime.exports, scope);
    return {
      name,
      runtime,
      async close() {
        await runtime.close();
        await bound.close();
      },
    };
  } catch (error) {
    await bound.close();
    throw error;
  }
}

function withWorker(logger: Logger, worker: string): Logger {
  return {
    debug: (m, f) => logger.debug(m, { service: worker, ...f }),
    info: (m, f) => logger.info(m, { service: worker, ...f }),
    warn: (m, f) => logger.warn(m, { service: worker, ...f }),
    error: (m, f) => logger.error(m, { service: worker, ...f }),
  };
}
