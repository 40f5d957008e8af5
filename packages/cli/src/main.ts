import { readFileSync } from "node:fs";
import { parseCliArgs } from "./args.ts";
import type { StartPreparation } from "./cluster/preparation.ts";
import { CliError } from "./errors.ts";
// Each command's modules are imported when it runs: a cluster worker never loads the supervisor's, nor
// the supervisor the Worker runtime's bindings (every process pays for what it loads).

/**
 * Runs the `torpor` command line (bin/torpor.js calls this after installing
 * its module hooks). Errors the user can fix print one line and exit 1.
 */
export async function run(argv: string[], host: RunHost = {}): Promise<void> {
  try {
    await main(argv, host);
  } catch (error) {
    if (error instanceof CliError || isUserError(error)) {
      process.stderr.write(`torpor: ${(error as Error).message}\n`);
    } else {
      process.stderr.write(`torpor: ${(error as Error)?.stack ?? String(error)}\n`);
    }
    process.exit(1);
  }
}

/** What bin/torpor.js offers the CLI: the modules its loader hooks load (for `torpor dev`'s watcher). */
export interface RunHost {
  /** Calls `listener` with the URL of every module loaded so far and from now on. */
  watchImports?(listener: (url: string) => void): void;
}

async function main(argv: string[], host: RunHost): Promise<void> {
  // `torpor d1 …` has its own arguments (d1-command.ts).
  if (argv[0] === "d1") return (await import("./d1-command.ts")).runD1(argv.slice(1));
  const args = parseCliArgs(argv);
  if (args.command === "help") {
    process.stdout.write((await import("./help.ts")).HELP);
    return;
  }
  if (args.command === "version") {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  if (args.command === "reload") return (await import("./cluster/reload.ts")).runReload(args);
  if (args.command === "backup") return (await import("./backup/backup-command.ts")).runBackup(args);
  if (args.command === "restore") return (await import("./backup/backup-command.ts")).runRestore(args);
  const command = args.command;
  const preparation = process.env.TORPOR_CLUSTER_PREPARATION;
  if (preparation !== undefined) return (await import("./cluster/preparation-child.ts")).runPreparation(args, JSON.parse(preparation));
  if (process.env.TORPOR_CLUSTER_WORKER !== undefined) {
    // Core (and zod under it) first, in a step of its own: compiled in the same burst as the rest of the worker's
    // modules, V8's peak of malloc'd compile memory doubled (6 -> 12 MB) and glibc kept it, +3-5 MB RSS per worker.
    await import("@torpor/core");
    await (await import("./native-memory.ts")).trimAfterIdleCollections();
    return (await import("./cluster/worker.ts")).runWorker({ ...args, command }, host);
  }
  await (await import("./native-memory.ts")).trimAfterIdleCollections();
  // Without @torpor/native a server runs on its fallbacks; it says so once, here (its workers do not), in the log's format.
  await (await import("./native.ts")).warnWithoutNative((await import("./logging.ts")).cliLogger({ ...args, command }));
  // `torpor dev` reloads on save: a supervisor with one worker, reloaded as a cluster is (dev/dev-server.ts).
  if (command === "dev" && args.watch) return (await import("./dev/dev-server.ts")).runDev(args, process.argv[1]!, process.argv.slice(2));
  if (command === "start") {
    const [script, argv] = [process.argv[1]!, process.argv.slice(2)];
    const preparation = await import("./cluster/preparation.ts");
    // A process that may become a supervisor reads its settings, and bundles the Worker, in a preparation process
    // (cluster/preparation.ts): the config's validation and esbuild are most of what a process would hold, and a
    // supervisor keeps only the outcome. With `--workers 1` and no `--cluster` this is one process: it reads them here.
    const prepared: StartPreparation =
      args.workers === 1 && args.cluster === undefined
        ? { settings: (await import("./cluster/preparation-child.ts")).clusterSettings(args, process.cwd()), bundle: null }
        : await preparation.startApart(script, argv);
    const { workers, supervised } = preparation.clusterWorkers(args, prepared.settings.torpor);
    if (supervised) return (await import("./cluster/start.ts")).runCluster(args, prepared, workers, script, argv);
  }
  const worker = await (await import("./serve.ts")).startWorker({ ...args, command });
  const { logger } = worker;

  // Unhandled rejections and uncaught exceptions are the runtime's to report while it serves
  // (attributed to their object); a second handler here logged every rejection twice.

  const { stopOnSignals } = await import("./shutdown.ts");
  stopOnSignals(logger, (signal) => {
    // 1012 "service restart" tells clients to reconnect; Ctrl-C in dev is a plain 1001 "going away".
    const [code, reason] = signal === "SIGINT" && command === "dev" ? [1001, "Server stopped"] : [1012, "Server restarting"];
    logger.info("Shutting down: finishing in-flight events, committing storage, closing sockets", { signal, code });
    return worker.close(code, reason);
  });

  if (command === "dev") {
    process.stdout.write(`Ready on ${worker.url}\n`);
    if (worker.adminUrl !== null) process.stdout.write(`Admin on ${worker.adminUrl}\n`);
  } else {
    logger.info("Listening", { url: worker.url });
    if (worker.adminUrl !== null) logger.info("Admin listening", { url: worker.adminUrl });
  }
}

/** A TorporError, or a CliError or TorporError a worker process reported (rebuilt from IPC, so not an instance of either here); by name, so this module need not load core. */
function isUserError(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null;
  return typeof e?.code === "string" && (e.name === "CliError" || e.name === "TorporError");
}
