/**
 * The chat app as ../wrangler.jsonc describes it: the Worker behind its static
 * assets. The config's `assets` become env.ASSETS and the layer that answers
 * from public/ before the Worker runs, exactly as `torpor dev` (and Cloudflare)
 * serve the same config; `startChatServer` and the tests put the result on a
 * runtime of their own.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createBindings } from "@torpor/bindings";
import { readConfig, withAssets } from "@torpor/cli";
import { consoleLogger, type Logger, type WorkerFetch } from "@torpor/core";
import worker, { type WorkerEnv } from "./worker.ts";

/** The app's wrangler config. */
export const CHAT_CONFIG = fileURLToPath(new URL("../wrangler.jsonc", import.meta.url));

/** The Worker's fetch with the assets in front, the env values the config binds, and how to release them. */
export interface ChatApp {
  fetch: WorkerFetch;
  env: Record<string, unknown>;
  close(): Promise<void>;
}

/** Reads the config and makes its bindings (`dataDir`: where bindings that store would keep their files). */
export async function loadChatApp(options: { dataDir: string; logger?: Logger }): Promise<ChatApp> {
  const logger = options.logger ?? consoleLogger("info");
  const config = readConfig(CHAT_CONFIG);
  for (const warning of config.warnings) logger.warn(warning);
  const bound = await createBindings(config.bindingConfig, { dataDir: options.dataDir, configDir: dirname(CHAT_CONFIG), logger });
  // The runtime's env is the Worker's WorkerEnv (CHAT_ROOM, ASSETS, the dev-mode values).
  const workerFetch: WorkerFetch = (request, env, ctx) => worker.fetch(request, env as unknown as WorkerEnv, ctx);
  return { fetch: withAssets(bound.route, workerFetch) ?? workerFetch, env: bound.env, close: async () => bound.close() };
}
