/**
 * What a cluster supervisor reads from the config, and the Worker bundle it hands its workers, are made in a
 * short-lived process of their own (preparation-child.ts) and reach the supervisor as plain data. Validating
 * the config loads zod, every binding's schema and core's runtime, and bundling loads esbuild: most of what a
 * process would hold, paid once for all of its life by a supervisor that needs only the outcome (issue 23
 * item 4, bench/RESULTS.md). The process runs the same command line (`script`, `argv`), so it sees the
 * same flags, config and working directory, and its errors are the ones the supervisor would have thrown.
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import type { CliArgs } from "../args.ts";
import type { TorporSection } from "../config.ts";
import { processBundleDir } from "../bundle-dir.ts";
import { CliError, type CliErrorCode } from "../errors.ts";
import { decodeError, type WireError } from "./wire.ts";

/** The env variable that makes the CLI a preparation process; its value is the Preparation, as JSON. */
export const PREPARATION_ENV = "TORPOR_CLUSTER_PREPARATION";

/**
 * What a preparation process is asked for: at start, the settings and (when they make this process a
 * supervisor) the first bundle, in one process; at a reload, a bundle. Bundles are written into `outDir`.
 */
export type Preparation = { what: "start"; outDir: string } | { what: "bundle"; outDir: string };

/** What a supervisor uses of the flags and the config (serve-settings.ts has the whole). */
export interface ClusterSettings {
  persistTo: string;
  port: number;
  ip: string;
  torpor: TorporSection;
  /** The config's warnings, for the supervisor to log (the preparation process logs nothing). */
  warnings: string[];
}

/** A preparation process's one message. */
export type PreparationReply = { ok: true; value: unknown } | { ok: false; error: WireError };

/** A bundle's outcome: the environment that hands it to the workers, or the error the build threw. */
export type BundleOutcome = { ok: true; env: Record<string, string> } | { ok: false; error: WireError };

/** What a start prepares: the settings, and the first bundle when a cluster follows (null: one process, it bundles itself). */
export interface StartPreparation {
  settings: ClusterSettings;
  bundle: BundleOutcome | null;
}

/** How many workers the flags and the config ask for, and whether they need a supervisor. */
export function clusterWorkers(args: Pick<CliArgs, "workers" | "cluster">, torpor: TorporSection): { workers: number; supervised: boolean } {
  const workers = args.workers ?? torpor.workers ?? availableParallelism();
  // One process needs no supervisor: `--workers 1` is today's single process. A node of several machines always
  // has one: it holds the node's lease, and never runs user code that could delay a renewal.
  return { workers, supervised: workers > 1 || (args.cluster ?? torpor.cluster) !== undefined };
}

/** The settings and the first bundle, made in one preparation process. */
export function startApart(script: string, argv: string[]): Promise<StartPreparation> {
  return prepareApart(script, argv, { what: "start", outDir: processBundleDir() }) as Promise<StartPreparation>;
}

/**
 * A Supervisor's `prepare`: each reload bundles the Worker in a preparation process, into this process's
 * bundle folder; the start uses the bundle `first` made with the settings (its error, if it failed, thrown here
 * as the start's own bundling would have).
 */
export function bundleApart(script: string, argv: string[], first: BundleOutcome | null): () => Promise<Record<string, string>> {
  let prepared = first;
  return async () => {
    const outcome = prepared;
    prepared = null;
    if (outcome === null) return (await prepareApart(script, argv, { what: "bundle", outDir: processBundleDir() })) as Record<string, string>;
    if (outcome.ok) return outcome.env;
    throw rebuilt(outcome.error);
  };
}

function prepareApart(script: string, argv: string[], preparation: Preparation): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = fork(script, argv, {
      env: { ...process.env, [PREPARATION_ENV]: JSON.stringify(preparation) },
      // Its output is the user's to see (it prints nothing unless it crashes); its answer comes over IPC.
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
    });
    let reply: PreparationReply | null = null;
    child.once("message", (message) => {
      reply = message as PreparationReply;
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (reply === null) reject(new Error(`The cluster's preparation process exited (${signal ?? code}) before answering.`));
      else if (reply.ok) resolve(reply.value);
      else reject(rebuilt(reply.error));
    });
  });
}

/**
 * The error the preparation process threw, as the supervisor would have thrown it: the same class, code and message
 * (a CliError here; every other class as a routed call rebuilds it, wire.ts).
 */
export function rebuilt(wire: WireError): Error {
  if (wire.name !== "CliError") return decodeError(wire);
  const error = new CliError(wire.code as CliErrorCode, wire.message);
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
