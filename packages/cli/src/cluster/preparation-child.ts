/**
 * The preparation process of a cluster supervisor (preparation.ts): reads the settings and bundles the Worker
 * (at start), or bundles it (at a reload), answers once over IPC, and exits, taking with it everything it
 * loaded for that.
 */
import type { CliArgs } from "../args.ts";
import { serveSettings } from "../serve-settings.ts";
import { bundleForWorkers } from "../supervisor-bundle.ts";
import { type BundleOutcome, type ClusterSettings, clusterWorkers, type Preparation, type PreparationReply, type StartPreparation } from "./preparation.ts";
import { encodeError } from "./wire.ts";

/** Runs one preparation and reports it to the supervisor that forked this process. */
export async function runPreparation(args: CliArgs, preparation: Preparation): Promise<void> {
  let reply: PreparationReply;
  try {
    const cwd = process.cwd();
    const bundle = () => bundleForWorkers(args, cwd, undefined, preparation.outDir)();
    if (preparation.what === "bundle") reply = { ok: true, value: await bundle() };
    else {
      const settings = clusterSettings(args, cwd);
      let first: BundleOutcome | null = null;
      if (clusterWorkers(args, settings.torpor).supervised) {
        try {
          first = { ok: true, env: await bundle() };
        } catch (error) {
          first = { ok: false, error: encodeError(error) };
        }
      }
      const value: StartPreparation = { settings, bundle: first };
      reply = { ok: true, value };
    }
  } catch (error) {
    reply = { ok: false, error: encodeError(error) };
  }
  process.send!(reply, () => process.exit(0));
}

/** What a supervisor uses of the flags and the config. */
export function clusterSettings(args: CliArgs, cwd: string): ClusterSettings {
  const { config, persistTo, port, ip } = serveSettings(args, cwd);
  return { persistTo, port, ip, torpor: config.torpor, warnings: config.warnings };
}
