/**
 * What the two servers made of a supervisor and worker processes share around their Supervisor:
 * `torpor start` with workers (cluster/start.ts) and `torpor dev` with reload on save
 * (dev/dev-server.ts). One copy, so that the two cannot drift apart.
 */
import { join } from "node:path";
import type { Logger } from "@torpor/core";
import type { DataDirLock } from "@torpor/storage-sqlite";
import type { AdminServer } from "../admin.ts";
import type { CliArgs } from "../args.ts";
import type { Supervisor, SupervisorOptions } from "./supervisor.ts";

/** Where a supervised server listens and keeps its data (the command line over the config). */
export interface SupervisedSettings {
  port: number;
  ip: string;
  persistTo: string;
}

/** The Supervisor options both servers give: where to listen and store, and the command line each worker process runs. */
export function supervisorBasics(
  settings: SupervisedSettings,
  script: string,
  argv: string[],
): Pick<SupervisorOptions, "port" | "ip" | "persistTo" | "script" | "argv"> {
  return { port: settings.port, ip: settings.ip, persistTo: settings.persistTo, script, argv };
}

/** The admin endpoint over every worker (`--admin-port`), or null when none was asked for. */
export async function serveSupervisorAdmin(
  args: CliArgs,
  supervisor: Supervisor,
  lock: DataDirLock,
  persistTo: string,
  logger: Logger,
): Promise<AdminServer | null> {
  if (args.adminPort === undefined) return null;
  // Loaded only when asked for (the dashboard, metrics and their checks are most of a supervisor's own code).
  const [{ adminToken }, { serveAdmin }, { clusterAdmin }] = await Promise.all([import("../admin-access.ts"), import("../admin.ts"), import("./admin.ts")]);
  const options = { port: args.adminPort, host: args.adminIp, logger, token: adminToken(args), dataDir: join(persistTo, "do") };
  return await serveAdmin(clusterAdmin(supervisor, lock), options);
}
