import { dirname, join, resolve } from "node:path";
import { openCaches } from "@torpor/bindings/cache";
import { boundNames, createBindings, type BoundValues } from "@torpor/bindings/plugins";
import { DEFAULT_COMPATIBILITY_DATE, Runtime, setWorkerEnv, setWorkerExports, type Logger, type StorageProvider, type WorkerFetch } from "@torpor/core";
import type { HostDirectory } from "@torpor/core/cluster";
import { sqliteStorage, type DataDirLock, type SqliteStorageProvider } from "@torpor/storage-sqlite";
import { adminToken as adminTokenOf, checkAdminExposure } from "./admin-access.ts";
import { holdDataDir } from "./data-dir.ts";
import type { AdminServer } from "./admin.ts";
import type { CliArgs, Command } from "./args.ts";
import type { WorkerConfig } from "./config.ts";
import { CliError } from "./errors.ts";
import { startAuxiliaryWorkers, serviceEnv, UNNAMED, withAssets } from "./auxiliary-workers.ts";
import { mergeLimits, runtimeLimits } from "./limits.ts";
import { cliLogger, withFields } from "./logging.ts";
import { ServiceRegistry } from "./service-binding.ts";
import { listenError, serveSettings } from "./serve-settings.ts";
import { entrypointExports, installWorkerGlobals, loadWorker, serviceTarget } from "./worker-module.ts";
import { serveBackupRequests } from "./backup/backup-requests.ts";

/** A running Worker: the runtime, its URL and the admin endpoint's. */
export interface RunningWorker {
  runtime: Runtime;
  url: string;
  adminUrl: string | null;
  logger: Logger;
  /** The SQLite storage on this machine: the runtime's provider, or the one a cluster node's provider works through (readiness probes it). */
  storage: SqliteStorageProvider;
  /** Graceful stop: admin first, then the runtime (in-flight events finish, storage commits, sockets close with `code`). */
  close(code: number, reason: string): Promise<void>;
}

/** This process as one worker of a cluster (see cluster/worker.ts). */
export interface ClusterRole {
  index: number;
  directory: HostDirectory;
  /** A node of several machines brings its own storage (the PostgreSQL log); else SQLite files in the data directory. */
  storage?: StorageProvider;
  /** With `storage`: the SQLite files on this machine it works through (readiness probes them). */
  local?: SqliteStorageProvider;
}

/** Reads the config, loads the Worker, and starts the runtime (and the admin endpoint if asked). */
export async function startWorker(args: CliArgs & { command: Command }, cwd = process.cwd(), cluster?: ClusterRole): Promise<RunningWorker> {
  const base = cliLogger(args);
  const logger = cluster === undefined ? base : withFields(base, { worker: cluster.index });
  const { configPath, config, persistTo, port, ip } = serveSettings(args, cwd);
  // In a cluster the supervisor already reported the config's warnings.
  if (cluster === undefined) for (const warning of config.warnings) logger.warn(warning);

  const entry = args.entry !== undefined ? resolve(cwd, args.entry) : config.main;
  if (entry === undefined) {
    throw new CliError(
      "ERR_CLI_USAGE",
      configPath === null
        ? `No Worker entry: pass one (torpor ${args.command} src/index.ts) or run where a wrangler.jsonc, wrangler.json or wrangler.toml with "main" is (looked in ${cwd}).`
        : `No Worker entry: ${configPath} has no "main"; add it or pass the entry (torpor ${args.command} src/index.ts).`,
    );
  }
  if (config.path !== null && config.compatibilityDate === undefined) {
    logger.warn(`${config.path} has no "compatibility_date"; Cloudflare requires one (Torpor then behaves as at ${DEFAULT_COMPATIBILITY_DATE}).`);
  }

  const vars = { ...config.vars, ...args.vars };
  for (const b of config.bindings) {
    if (b.name in vars) throw new CliError("ERR_CONFIG_INVALID", `The name ${b.name} is both a var and a Durable Object binding; rename one.`);
  }
  const bindingKinds = new Map([
    ...boundNames(config.bindingConfig).map(({ name, key }): [string, string] => [name, key]),
    ...(config.services ?? []).map((s): [string, string] => [s.binding, "services"]),
  ]);
  for (const [name, key] of bindingKinds) {
    if (name in vars) throw new CliError("ERR_CONFIG_INVALID", `The name ${name} is both a var and a binding of "${key}"; rename one.`);
  }

  const adminToken = adminTokenOf(args);
  if (args.adminPort !== undefined) checkAdminExposure(args.adminIp, adminToken);

  // Before anything runs: a second server on the same directory would corrupt the first one's objects.
  // A cluster's supervisor holds the lock for all its workers.
  // Workers of a server whose supervisor died may still be finishing: wait for them (bounded) rather than open files beside them.
  const lock = cluster === undefined ? await holdDataDir(persistTo, logger) : null;
  let bound: BoundValues | null = null;
  const release = async () => {
    await bound?.close();
    lock?.release();
  };
  try {
    // KV, D1, R2… (their files under the data directory are shared by a cluster's workers).
    bound = await createBindings(config.bindingConfig, { dataDir: persistTo, configDir: config.path !== null ? dirname(config.path) : cwd, logger });
    // The Workers of this process by name: service bindings find theirs at each call.
    const services = new ServiceRegistry();
    return await startLocked(args, {
      logger,
      config,
      entry,
      vars: { ...vars, ...bound.env, ...serviceEnv(config.services, services) },
      services,
      cwd,
      route: bound.route,
      bindingKinds,
      persistTo,
      lock,
      release,
      adminToken,
      port,
      ip,
      cluster,
    });
  } catch (error) {
    await release();
    throw error;
  }
}

async function startLocked(
  args: CliArgs & { command: Command },
  {
    logger,
    config,
    entry,
    vars,
    services,
    cwd,
    route,
    bindingKinds,
    persistTo,
    lock,
    release,
    adminToken,
    port,
    ip,
    cluster,
  }: {
    logger: Logger;
    config: WorkerConfig;
    entry: string;
    vars: Record<string, unknown>;
    services: ServiceRegistry;
    cwd: string;
    route: BoundValues["route"];
    bindingKinds: Map<string, string>;
    persistTo: string;
    lock: DataDirLock | null;
    release: () => Promise<void>;
    adminToken: string | null;
    port: number;
    ip: string;
    cluster: ClusterRole | undefined;
  },
): Promise<RunningWorker> {
  // The Cache API's files sit beside the bindings' (shared by a cluster's workers); opened on first use.
  const caches = openCaches(persistTo);
  installWorkerGlobals(caches);
  // Module-level code of the entry may read env (vars and bindings are there; namespaces come with the runtime).
  setWorkerEnv({ ...vars });
  // The other Workers given (-c a -c b): each loaded apart, reachable through service bindings.
  const auxiliary = await startAuxiliaryWorkers(args.moreConfigs ?? [], {
    cwd,
    persistTo,
    logger,
    registry: services,
    primary: config,
    cluster: cluster !== undefined,
  });
  const closeAuxiliary = async () => {
    for (const aux of auxiliary.reverse()) await aux.close();
  };
  let worker: Awaited<ReturnType<typeof loadWorker>>;
  try {
    worker = await loadWorker(entry, config.bindings, logger, { moduleRules: config.moduleRules });
  } catch (error) {
    await closeAuxiliary();
    throw error;
  }

  const t = config.torpor;
  const storage = cluster?.local ?? sqliteStorage({ dir: join(persistTo, "do") });
  // Static assets answer before the Worker, or after it (assets.run_worker_first).
  const fetch: WorkerFetch | undefined = withAssets(route, worker.fetch);
  const runtime = new Runtime({
    objects: worker.objects,
    ...(fetch !== undefined ? { fetch } : {}),
    env: vars,
    storage: cluster?.storage ?? storage,
    // Each limit from its flag, else from the config (limits.ts).
    ...runtimeLimits(mergeLimits(args, t)),
    logger,
    installGlobals: false,
    ...(config.compatibilityDate !== undefined ? { compatibilityDate: config.compatibilityDate } : {}),
    compatibilityFlags: config.compatibilityFlags,
    ...(cluster !== undefined ? { directory: cluster.directory } : {}),
  });
  const name = config.name ?? UNNAMED;
  services.add(name, serviceTarget(worker, runtime));
  Object.assign(runtime.exports, entrypointExports(worker, services, name));
  setWorkerEnv(runtime.env);
  setWorkerExports(runtime.exports);

  let url: string;
  try {
    // A cluster worker gets its connections from the supervisor, which listens.
    // `torpor dev` shows an uncaught error's stack in the 500, as wrangler dev does.
    ({ url } = await runtime.listen({ port: cluster === undefined ? port : null, host: ip, errorDetails: args.command === "dev" }));
  } catch (error) {
    await runtime.close();
    await closeAuxiliary();
    throw listenError(error, "--port");
  }
  let admin: AdminServer | null = null;
  if (args.adminPort !== undefined && cluster === undefined) {
    try {
      // Loaded only when asked for: the dashboard and the metrics page are not a worker's to hold otherwise.
      const { startAdmin } = await import("./admin.ts");
      admin = await startAdmin(runtime, { port: args.adminPort, host: args.adminIp, logger, token: adminToken, lock, dataDir: join(persistTo, "do") });
    } catch (error) {
      await runtime.close();
      await closeAuxiliary();
      throw listenError(error, "--admin-port");
    }
  }
  // The lock holder answers `torpor backup` (a cluster's supervisor does it for its workers).
  const stopBackups = lock !== null ? serveBackupRequests(persistTo, logger, (dest) => storage.backup(dest)) : () => {};
  logger.info("Worker loaded", {
    entry,
    config: config.path ?? "(none)",
    storage: join(persistTo, "do"),
    bindings: Object.fromEntries([
      ...config.bindings.map((b) => [b.name, `Durable Object ${b.className}`]),
      ...Object.keys(vars).map((k) => [k, bindingKinds.get(k) ?? "var"]),
    ]),
  });

  return {
    runtime,
    url,
    adminUrl: admin?.url ?? null,
    logger,
    storage,
    async close(code, reason) {
      stopBackups();
      await admin?.close();
      await runtime.close({ code, reason });
      await closeAuxiliary();
      caches.close();
      await release();
    },
  };
}

export { listenError, serveSettings, type ServeSettings } from "./serve-settings.ts";
