/**
 * `torpor start --workers N` (N > 1): this process becomes the supervisor.
 * SIGTERM/SIGINT stop every worker gracefully; SIGHUP (or `torpor reload`)
 * reloads the Worker's code without closing hibernatable WebSockets. The
 * outcome of each reload is written to `<persist-to>/cluster/reload.json`
 * for `torpor reload` to report.
 *
 * The data directory is taken only once no process of a previous server uses
 * it (workers of a supervisor that was killed finish and exit by themselves
 * within ORPHAN_EXIT_MS), and let go only after every worker of this one has
 * exited, so two servers never have the same objects open.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lockDataDirWhenFree } from "@torpor/storage-sqlite";
import { serveAdmin } from "../admin.ts";
import type { CliArgs } from "../args.ts";
import { cliLogger } from "../logging.ts";
import { listenError, serveSettings } from "../serve.ts";
import { stopOnSignals } from "../shutdown.ts";
import { clusterAdmin } from "./admin.ts";
import { type ClusterTimeouts, DEFAULT_CLUSTER_TIMEOUTS } from "./cluster-timeouts.ts";
import { removeSupervisorPid, writeSupervisorPid } from "./pid-file.ts";
import { Supervisor } from "./supervisor.ts";
import { serveBackupRequests } from "../backup/backup-requests.ts";

export async function runCluster(args: CliArgs, workers: number, script: string, argv: string[]): Promise<void> {
  const logger = cliLogger(args);
  // A SIGHUP before the workers are up (a deploy racing a start) reloads once they are, instead of ending this process.
  let started = false;
  let reloadWhenStarted = false;
  let reloads = 0;
  let reload = () => {
    reloadWhenStarted = true;
  };
  process.on("SIGHUP", () => {
    if (!started) logger.info("Reload requested while starting; reloading once started");
    reload();
  });
  const { config, persistTo, port, ip } = serveSettings(args, process.cwd());
  for (const warning of config.warnings) logger.warn(warning);
  const moveTimeoutMs = args.moveTimeoutMs ?? config.torpor.moveTimeoutMs;
  const routeTimeoutMs = args.routeTimeoutMs ?? config.torpor.routeTimeoutMs;
  const timeouts: Partial<ClusterTimeouts> = {
    ...(moveTimeoutMs !== undefined ? { moveTimeoutMs } : {}),
    ...(routeTimeoutMs !== undefined ? { routeTimeoutMs } : {}),
  };
  // The supervisor holds the data directory for its workers (each also joins it as a member while it runs).
  const lock = await lockDataDirWhenFree(persistTo, DEFAULT_CLUSTER_TIMEOUTS.lockWaitMs, (reason) =>
    logger.warn("Waiting for the data directory", { reason, waitMs: DEFAULT_CLUSTER_TIMEOUTS.lockWaitMs }),
  );
  const clusterDir = join(persistTo, "cluster");
  mkdirSync(clusterDir, { recursive: true });
  const supervisor = new Supervisor({ workers, port, ip, persistTo, script, argv, logger, timeouts });
  try {
    await supervisor.start();
  } catch (error) {
    await supervisor.stop();
    lock.release();
    throw listenError(error, "--port");
  }
  // An empty TORPOR_ADMIN_TOKEN counts as unset (as for one process).
  const token = args.adminToken ?? (process.env.TORPOR_ADMIN_TOKEN || null);
  const admin =
    args.adminPort === undefined
      ? null
      : await serveAdmin(clusterAdmin(supervisor, lock), { port: args.adminPort, host: args.adminIp, logger, token, dataDir: join(persistTo, "do") });
  writeSupervisorPid(clusterDir);
  serveBackupRequests(persistTo, logger, (dest) => supervisor.backup(dest));

  // Through a rename: `torpor reload` (and tests) read it as soon as it changes, never half of it.
  const report = (outcome: Record<string, unknown>) => {
    const file = join(clusterDir, "reload.json");
    writeFileSync(`${file}.tmp`, `${JSON.stringify({ pid: process.pid, ...outcome, at: Date.now() })}\n`);
    renameSync(`${file}.tmp`, file);
  };
  reload = () => {
    const seq = ++reloads;
    logger.info("Reloading: starting workers with the current code", { seq });
    supervisor.reload().then(
      () => report({ seq, ok: true }),
      (error: unknown) => {
        logger.error("Reload failed; the running workers keep serving", { error });
        report({ seq, ok: false, error: (error as Error)?.message ?? String(error) });
      },
    );
  };
  started = true;
  stopOnSignals(logger, async (signal) => {
    logger.info("Shutting down: every worker finishes its events, commits storage and closes sockets", { signal, code: 1012 });
    await Promise.all([admin?.close(), supervisor.stop()]);
    // Every child has exited: only now may another server take the directory.
    removeSupervisorPid(clusterDir);
    lock.release();
  });
  logger.info("Listening", { url: supervisor.url, workers });
  if (admin !== null) logger.info("Admin listening", { url: admin.url });
  if (reloadWhenStarted) reload();
}
