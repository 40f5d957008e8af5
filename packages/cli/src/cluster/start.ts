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
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "@torpor/core";
import type { CliArgs } from "../args.ts";
import { cliLogger } from "../logging.ts";
import { listenError } from "../listen-error.ts";
import { stopOnSignals } from "../shutdown.ts";
import { IdleCollector } from "@torpor/core/idle-collector";
import { holdDataDir } from "../data-dir.ts";
import type { ClusterTimeouts } from "./cluster-timeouts.ts";
import { DeadlineFile } from "./node-deadline-file.ts";
import { FENCED_EXIT_CODE } from "./node-fence.ts";
import type { NodeMembership } from "./node-membership.ts";
import { unjoinedTable } from "./node-table.ts";
import { PeerServer } from "./peer-server.ts";
import { removeSupervisorPid, writeSupervisorPid } from "./pid-file.ts";
import { serveSupervisorAdmin, supervisorBasics } from "./supervised.ts";
import { Supervisor } from "./supervisor.ts";
import { serveBackupRequests } from "../backup/backup-requests.ts";
import { bundleApart, type StartPreparation } from "./preparation.ts";

export async function runCluster(args: CliArgs, prepared: StartPreparation, workers: number, script: string, argv: string[]): Promise<void> {
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
  const { settings } = prepared;
  const { torpor, persistTo, ip } = settings;
  for (const warning of settings.warnings) logger.warn(warning);
  const moveTimeoutMs = args.moveTimeoutMs ?? torpor.moveTimeoutMs;
  const routeTimeoutMs = args.routeTimeoutMs ?? torpor.routeTimeoutMs;
  const timeouts: Partial<ClusterTimeouts> = {
    ...(moveTimeoutMs !== undefined ? { moveTimeoutMs } : {}),
    ...(routeTimeoutMs !== undefined ? { routeTimeoutMs } : {}),
  };
  // The supervisor holds the data directory for its workers (each also joins it as a member while it runs).
  const lock = await holdDataDir(persistTo, logger);
  const clusterDir = join(persistTo, "cluster");
  mkdirSync(clusterDir, { recursive: true });
  let supervisor: Supervisor;
  let node: Awaited<ReturnType<typeof joinCluster>> | null = null;
  const url = args.cluster ?? torpor.cluster;
  // A node of several machines: what its supervisor (and through it its workers) and its join share.
  let cluster: NodeSettings | null = null;
  try {
    if (url !== undefined) cluster = nodeSettings(url, args.durability ?? torpor.durability ?? "postgres", clusterDir, logger);
    supervisor = new Supervisor({
      ...supervisorBasics(settings, script, argv),
      workers,
      logger,
      timeouts,
      prepare: bundleApart(script, argv, prepared.bundle),
      // The workers start holding no slot; the node's table reaches them once it joined (below).
      ...(cluster !== null
        ? { node: { url: cluster.url, durability: cluster.durability, table: unjoinedTable(cluster.nodeId), deadlines: cluster.deadlines.source } }
        : {}),
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  try {
    await supervisor.start();
    // Only once the workers serve: a node that holds a lease counts in the other nodes' shares (they hand it slots)
    // and takes its own share at once, and calls for those slots would wait for workers still loading.
    if (cluster !== null) node = await joinCluster(args, cluster, torpor, { workers, ip, logger, supervisor: () => supervisor });
  } catch (error) {
    await supervisor.stop();
    lock.release();
    throw listenError(error, "--port");
  }
  const admin = await serveSupervisorAdmin(args, supervisor, lock, persistTo, logger);
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
  // Handing thousands of connections to workers leaves garbage here too (the workers collect their own).
  const collector = new IdleCollector({ logger, releases: () => 0, afterStart: true, youngGrowth: true });
  collector.start();
  started = true;
  stopOnSignals(logger, async (signal) => {
    collector.stop();
    logger.info("Shutting down: every worker finishes its events, commits storage and closes sockets", { signal, code: 1012 });
    await Promise.all([admin?.close(), supervisor.stop()]);
    await node?.peer.close();
    await node?.membership.leave();
    // Every child has exited: only now may another server take the directory.
    removeSupervisorPid(clusterDir);
    lock.release();
  });
  logger.info("Listening", {
    url: supervisor.url,
    workers,
    ...(node !== null ? { node: node.membership.lease.nodeId, peer: node.peer.address, durability: node.durability } : {}),
  });
  if (admin !== null) logger.info("Admin listening", { url: admin.url });
  if (reloadWhenStarted) reload();
}

/**
 * Joins a cluster of several machines: the peer endpoint first (its address
 * goes in the lease row), then the lease and this node's share of slots. If
 * the lease is lost, every worker fences (no more output, WebSockets closed
 * with 1012) and the process exits with code 75 for its service manager to
 * restart it.
 */
async function joinCluster(
  args: CliArgs,
  cluster: NodeSettings,
  t: { leaseTtlMs?: number | undefined; nodeAddress?: string | undefined; peerPort?: number | undefined },
  context: { workers: number; ip: string; logger: Logger; supervisor: () => Supervisor | undefined },
) {
  const { url, durability, deadlines } = cluster;
  const { logger } = context;
  let membership: NodeMembership | null = null;
  const unavailable = { ok: false as const, error: { name: "TorporError", code: "ERR_OBJECT_UNAVAILABLE", message: "This node is starting or stopping." } };
  const peer = new PeerServer({
    table: () => membership!.table,
    valid: () => membership?.lease.valid() ?? false,
    call: (call) => context.supervisor()?.peerCall(call) ?? Promise.resolve(unavailable),
    upgrade: (owner, message, socket) => {
      const supervisor = context.supervisor();
      if (supervisor === undefined) socket.destroy();
      else supervisor.peerUpgrade(owner, message, socket);
    },
    abandon: (owner, token) => context.supervisor()?.peerAbandon(owner, token),
    logger,
  });
  const bound = await peer.listen(args.peerPort ?? t.peerPort ?? 0, context.ip);
  const address = args.nodeAddress ?? t.nodeAddress ?? bound;
  let fencing = false;
  try {
    // Loaded only for --cluster: the PostgreSQL client is not paid for by a supervisor of one machine.
    const { NodeMembership } = await import("./node-membership.ts");
    membership = await NodeMembership.join({
      url,
      durability,
      nodeId: cluster.nodeId,
      address,
      ttlMs: args.leaseTtlMs ?? t.leaseTtlMs ?? 10_000,
      workers: context.workers,
      logger,
      onTable: (table) => {
        // First the file: the IPC message may wait behind sockets passed to the workers.
        deadlines.write(table.deadline);
        context.supervisor()?.setNodeTable(table);
      },
      onDrain: async (slots) => {
        await context.supervisor()?.drain(slots);
      },
      onLost: (error) => {
        if (fencing) return;
        fencing = true;
        logger.error("Lost the cluster lease: fencing every worker and exiting for a restart", { error });
        void (async () => {
          await context.supervisor()?.fence(error.message, 3_000);
          await membership?.abandon();
          process.exit(FENCED_EXIT_CODE);
        })();
      },
    });
  } catch (error) {
    await peer.close();
    throw error;
  }
  return { url, durability, membership, peer };
}

/** A node of several machines: its cluster database, where its acknowledged writes live, its id, and its workers' deadline file. */
interface NodeSettings {
  url: string;
  durability: "postgres" | "local";
  nodeId: string;
  deadlines: DeadlineFile;
}

/** The node's settings, built once for its supervisor and its join; the deadline file starts at 0 (nothing leaves before the join). */
function nodeSettings(url: string, durability: "postgres" | "local", clusterDir: string, logger: Logger): NodeSettings {
  const deadlines = new DeadlineFile(join(clusterDir, "node-deadline"), logger);
  return { url, durability, nodeId: nodeIdFor(durability, clusterDir), deadlines };
}

/**
 * With durability in PostgreSQL every start is a new node (a restarted process
 * must not be mistaken for the one whose slots others may hold now). With
 * local durability the node keeps its id in the data directory: its slots, and
 * the data on this disk, stay its own across restarts.
 */
function nodeIdFor(durability: "postgres" | "local", clusterDir: string): string {
  const fresh = `${hostname()}-${randomUUID().slice(0, 8)}`;
  if (durability === "postgres") return fresh;
  const file = join(clusterDir, "node-id");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  writeFileSync(file, `${fresh}\n`);
  return fresh;
}
