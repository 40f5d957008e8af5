/**
 * `torpor start --workers N` (N > 1): this process becomes the supervisor.
 * SIGTERM/SIGINT stop every worker gracefully; SIGHUP (or `torpor reload`)
 * reloads the Worker's code without closing hibernatable WebSockets. The
 * outcome of each reload is written to `<persist-to>/cluster/reload.json`
 * for `torpor reload` to report.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lockDataDir } from "@torpor/storage-sqlite";
import type { CliArgs } from "../args.ts";
import { cliLogger } from "../logging.ts";
import { listenError, serveSettings } from "../serve.ts";
import { stopOnSignals } from "../shutdown.ts";
import { serveAdmin } from "../admin.ts";
import { clusterAdmin } from "./admin.ts";
import { Supervisor } from "./supervisor.ts";
import { serveBackupRequests } from "../backup/backup-requests.ts";

export async function runCluster(args: CliArgs, workers: number, script: string, argv: string[]): Promise<void> {
  const logger = cliLogger(args);
  const { config, persistTo, port, ip } = serveSettings(args, process.cwd());
  for (const warning of config.warnings) logger.warn(warning);
  // The supervisor holds the data directory for its workers (they take no lock of their own).
  const lock = lockDataDir(persistTo);
  const clusterDir = join(persistTo, "cluster");
  mkdirSync(clusterDir, { recursive: true });
  const supervisor = new Supervisor({ workers, port, ip, persistTo, script, argv, logger });
  try {
    await supervisor.start();
  } catch (error) {
    lock.release();
    throw listenError(error, "--port");
  }
  // An empty TORPOR_ADMIN_TOKEN counts as unset (as for one process).
  const token = args.adminToken ?? (process.env.TORPOR_ADMIN_TOKEN || null);
  const admin =
    args.adminPort === undefined
      ? null
      : await serveAdmin(clusterAdmin(supervisor, lock), { port: args.adminPort, host: args.adminIp, logger, token, dataDir: join(persistTo, "do") });
  writeFileSync(join(clusterDir, "supervisor.pid"), `${process.pid}\n`);

  serveBackupRequests(persistTo, logger, (dest) => supervisor.backup(dest));
  let reloads = 0;
  process.on("SIGHUP", () => {
    const seq = ++reloads;
    logger.info("Reloading: starting workers with the current code", { seq });
    supervisor.reload().then(
      () => writeFileSync(join(clusterDir, "reload.json"), `${JSON.stringify({ pid: process.pid, seq, at: Date.now(), ok: true })}\n`),
      (error: unknown) => {
        logger.error("Reload failed; the running workers keep serving", { error });
        writeFileSync(
          join(clusterDir, "reload.json"),
          `${JSON.stringify({ pid: process.pid, seq, at: Date.now(), ok: false, error: (error as Error)?.message ?? String(error) })}\n`,
        );
      },
    );
  });
  stopOnSignals(logger, async (signal) => {
    logger.info("Shutting down: every worker finishes its events, commits storage and closes sockets", { signal, code: 1012 });
    await Promise.all([admin?.close(), supervisor.stop()]);
    rmSync(join(clusterDir, "supervisor.pid"), { force: true });
    lock.release();
  });
  logger.info("Listening", { url: supervisor.url, workers });
  if (admin !== null) logger.info("Admin listening", { url: admin.url });
}
