/**
 * What a cluster supervisor reads from the config, and the Worker bundle it hands its workers, are made in a
 * short-lived process of their own (preparation-child.ts) and reach the supervisor as plain data. Validating
 * the config loads zod, every binding's schema and core's runtime, and bundling loads esbuild: most of what a
 * process would hold, paid once for all of its life by a supervisor that needs only the outcome (issue 23
 * item 4, bench/RESULTS.md). The process runs the same command line (`script`, `argv`), so it sees the
 * same flags, config and working directory, and its errors are the ones the supervisor would have thrown.
 */
import { fork } from "node:child_process";
import { TorporError } from "@torpor/core/errors";
import type { TorporErrorCode } from "@torpor/core";
import type { TorporSection } from "../config.ts";
import { processBundleDir } from "../bundle-dir.ts";
import { CliError, type CliErrorCode } from "../errors.ts";
import type { WireError } from "./wire.ts";

/** The env variable that makes the CLI a preparation process; its value is the Preparation, as JSON. */
export const PREPARATION_ENV = "TORPOR_CLUSTER_PREPARATION";

/** What a preparation process is asked for: the settings, or a bundle written into `outDir`. */
export type Preparation = { what: "settings" } | { what: "bundle"; outDir: string };

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

/** The settings, read in a preparation process. */
export function settingsApart(script: string, argv: string[]): Promise<ClusterSettings> {
  return prepareApart(script, argv, { what: "settings" }) as Promise<ClusterSettings>;
}

/** A Supervisor's `prepare`: each start and reload bundles the Worker in a preparation process, into this process's bundle folder. */
export function bundleApart(script: string, argv: string[]): () => Promise<Record<string, string>> {
  return () => prepareApart(script, argv, { what: "bundle", outDir: processBundleDir() }) as Promise<Record<string, string>>;
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

/** The error the preparation process threw, as the supervisor would have thrown it: the same class, code and message. */
function rebuilt(wire: WireError): Error {
  const error =
    wire.name === "CliError"
      ? new CliError(wire.code as CliErrorCode, wire.message)
      : wire.name === "TorporError"
        ? new TorporError(wire.code as TorporErrorCode, wire.message)
        : Object.assign(new Error(wire.message), { name: wire.name, ...(wire.code !== undefined ? { code: wire.code } : {}) });
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
