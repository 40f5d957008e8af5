/**
 * The Worker bundled once by a supervisor (`torpor start` with several
 * workers, `torpor dev`) for every worker it forks: each worker imports the
 * file instead of building it again, and a reload builds it anew from the
 * code on disk. A Worker that does not build fails the start or the reload in
 * the supervisor, before any process is forked.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { CliArgs } from "./args.ts";
import { serveSettings } from "./serve-settings.ts";
import { BUNDLE_ENV, bundleWorker, type WorkerBundle } from "./worker-bundle.ts";

/**
 * A `prepare` for the Supervisor: re-reads the config (its "main" and module
 * rules may have changed), bundles the entry, and returns the environment that
 * hands the bundle to the workers. `onBundle` sees each bundle (`torpor dev`
 * watches its inputs). With no entry, or one that does not exist, it hands
 * nothing down: the workers report the error as a single process would. `outDir`: where the bundle goes
 * (by default a folder of this process's own; a preparation process writes into its supervisor's).
 */
export function bundleForWorkers(
  args: CliArgs,
  cwd: string,
  onBundle?: (bundle: WorkerBundle) => void,
  outDir?: string,
): () => Promise<Record<string, string>> {
  return async (): Promise<Record<string, string>> => {
    const { config } = serveSettings(args, cwd);
    const entry = args.entry !== undefined ? resolve(cwd, args.entry) : config.main;
    if (entry === undefined || !existsSync(entry)) return {};
    const bundle = await bundleWorker(entry, { moduleRules: config.moduleRules, cwd, ...(outDir !== undefined ? { outDir } : {}) });
    onBundle?.(bundle);
    return { [BUNDLE_ENV]: JSON.stringify(bundle) };
  };
}
