/**
 * `torpor dev` with reload on save: a supervisor and one worker process,
 * reloaded the way `torpor reload` reloads a cluster (cluster/supervisor.ts):
 * a new worker loads the changed code, then every hibernatable WebSocket
 * moves to it with its tags, attachment and unread bytes, so clients stay
 * connected and their next message runs the new class. Sockets accepted
 * with `ws.accept()` cannot move (their state lives in the instance): they
 * close with 1012, as on a restart. If the new code fails to load, the old
 * worker keeps serving and the error is printed once, with file and line.
 */
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { lockDataDirWhenFree } from "@torpor/storage-sqlite";
import type { CliArgs } from "../args.ts";
import { serveAdmin } from "../admin.ts";
import { serveBackupRequests } from "../backup/backup-requests.ts";
import { clusterAdmin } from "../cluster/admin.ts";
import { DEFAULT_CLUSTER_TIMEOUTS } from "../cluster/cluster-timeouts.ts";
import { Supervisor } from "../cluster/supervisor.ts";
import { cliLogger } from "../logging.ts";
import { listenError, serveSettings } from "../serve-settings.ts";
import { stopOnSignals } from "../shutdown.ts";
import { describeLoadError } from "./load-error.ts";
import { SourceWatcher } from "./source-watcher.ts";
import { bundleForWorkers } from "../supervisor-bundle.ts";

/** Torpor's own code (a source checkout's packages, or anything installed): never the Worker's sources. */
const TORPOR_PACKAGES = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const runningFromSource = existsSync(new URL("../main.ts", import.meta.url));

function isWorkerSource(path: string): boolean {
  if (path.includes("/node_modules/")) return false;
  return !(runningFromSource && path.startsWith(`${TORPOR_PACKAGES}/`));
}

export async function runDev(args: CliArgs, script: string, argv: string[]): Promise<void> {
  const logger = cliLogger({ ...args, command: "dev" });
  const cwd = process.cwd();
  const { configPath, config, persistTo, port, ip } = serveSettings(args, cwd);
  for (const warning of config.warnings) logger.warn(warning);
  // As for torpor start: the worker of a dev server that was killed finishes and exits first (it still has the objects open).
  const lock = await lockDataDirWhenFree(persistTo, DEFAULT_CLUSTER_TIMEOUTS.lockWaitMs, (reason) =>
    logger.warn("Waiting for the data directory", { reason, waitMs: DEFAULT_CLUSTER_TIMEOUTS.lockWaitMs }),
  );

  let reloading: Promise<void> | null = null;
  let again: string[] | null = null;
  const watcher = new SourceWatcher((files) => {
    if (reloading !== null) {
      again = [...(again ?? []), ...files];
      return;
    }
    reload(files);
  });
  const reload = (files: string[]) => {
    logger.info(`Reloading: ${files.map((f) => relative(cwd, f)).join(", ")} changed`);
    reloading = supervisor
      .reload()
      .catch((error: unknown) => {
        const text = `${(error as Error)?.message ?? String(error)}\n${(error as Error)?.stack ?? ""}`;
        logger.error(`Reload failed; still serving the previous code. ${describeLoadError(text, cwd, isWorkerSource)}`);
      })
      .finally(() => {
        reloading = null;
        const next = again;
        again = null;
        if (next !== null) reload(next);
      });
  };

  const supervisor = new Supervisor({
    workers: 1,
    port,
    ip,
    persistTo,
    script,
    argv,
    logger,
    // The Worker's files as its bundle lists them (each reload bundles anew).
    prepare: bundleForWorkers(args, cwd, (bundle) => {
      for (const path of bundle.inputs) if (isWorkerSource(path)) watcher.add(path);
    }),
    onImports: (urls) => {
      for (const url of urls) {
        if (!url.startsWith("file:")) continue;
        const path = fileURLToPath(url.split("?")[0]!);
        if (isWorkerSource(path)) watcher.add(path);
      }
    },
  });
  try {
    await supervisor.start();
  } catch (error) {
    watcher.close();
    lock.release();
    throw listenError(error, "--port");
  }
  if (configPath !== null) watcher.add(configPath);
  const token = args.adminToken ?? (process.env.TORPOR_ADMIN_TOKEN || null);
  const admin =
    args.adminPort === undefined
      ? null
      : await serveAdmin(clusterAdmin(supervisor, lock), { port: args.adminPort, host: args.adminIp, logger, token, dataDir: join(persistTo, "do") });
  const stopBackups = serveBackupRequests(persistTo, logger, (dest) => supervisor.backup(dest));

  stopOnSignals(logger, async (signal) => {
    watcher.close();
    stopBackups();
    // Ctrl-C in dev is a plain 1001 "going away"; SIGTERM a 1012 "service restart", as for torpor start.
    const [code, reason] = signal === "SIGINT" ? [1001, "Server stopped"] : [1012, "Server restarting"];
    logger.info("Shutting down: finishing in-flight events, committing storage, closing sockets", { signal, code });
    await Promise.all([admin?.close(), supervisor.stop(code, reason)]);
    lock.release();
  });
  process.stdout.write(`Ready on ${supervisor.url}\n`);
  if (admin !== null) process.stdout.write(`Admin on ${admin.url}\n`);
}
