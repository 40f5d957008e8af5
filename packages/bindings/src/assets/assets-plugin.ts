import { resolve } from "node:path";
import { definePlugin } from "../binding-plugin.ts";
import { assetsSchema, type AssetsConfig } from "./assets-config.ts";

/**
 * `assets`: the directory is served before the Worker (or after it, as
 * `run_worker_first` says), and `env.<binding>` (when `binding` is set)
 * fetches from it directly.
 */
export const assetsPlugin = definePlugin<AssetsConfig>({
  key: "assets",
  schema: assetsSchema,
  names: (config) => (config.binding === undefined ? [] : [config.binding]),
  warnings(config, file) {
    const known = new Set(Object.keys(assetsSchema.shape));
    return Object.keys(config)
      .filter((key) => !known.has(key))
      .map((key) => `${file}: unknown key "assets.${key}" is ignored.`);
  },
  // The implementation is imported only when the config asks for assets (see plugins.ts).
  async create(config, context) {
    const [{ AssetServer }, { workerFirst }] = await Promise.all([import("./asset-server.ts"), import("./run-worker-first.ts")]);
    const server = new AssetServer(resolve(context.configDir, config.directory), config, context.logger);
    const env: Record<string, unknown> = {};
    if (config.binding !== undefined) {
      env[config.binding] = {
        // The binding serves assets only: a path no asset answers is a 404.
        async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
          return server.handle(new Request(input, init)) ?? new Response(null, { status: 404 });
        },
      };
    }
    return {
      env,
      close() {},
      route(request, worker) {
        if (worker === undefined) return server.handle(request) ?? new Response(null, { status: 404 });
        if (workerFirst(config.run_worker_first, new URL(request.url).pathname)) return worker(request);
        return server.handle(request) ?? worker(request);
      },
    };
  },
});
