import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveCloudflareModule } from "@torpor/core";
import { readD1Migrations as readMigrations, type D1Migration } from "@torpor/bindings";
import {
  defaultModuleRules,
  inProcessLimits,
  matchModuleRule,
  mergeLimits,
  moduleSource,
  readConfig,
  removedRuleMessage,
  type ModuleRules,
  type ModuleRuleType,
  type WorkerConfig,
} from "@torpor/cli";
import type { Plugin } from "vitest/config";
import { TestingError } from "../errors.ts";
import type { WorkerModuleConfig } from "./worker-config.ts";

/**
 * Cloudflare's `readD1Migrations(dir)`: the folder's `.sql` files, ordered by their
 * number, each split into statements, for `applyD1Migrations()` in a setup file.
 */
export async function readD1Migrations(migrationsPath: string): Promise<D1Migration[]> {
  return readMigrations(migrationsPath);
}

/** Options of {@link torpor}: Cloudflare's `cloudflareTest()` shape, plus Torpor's own. */
export interface TorporPluginOptions {
  /** The Worker entry; default: `main` of the wrangler config. */
  main?: string;
  wrangler?: {
    /** The wrangler config (`wrangler.jsonc`, `.json` or `.toml`), relative to the vitest root. */
    configPath?: string;
    /** Named environments are not supported: giving one is an error. */
    environment?: string;
  };
  /** Cloudflare's Miniflare overrides. Only `bindings` (extra vars, merged over the config's) is used. */
  miniflare?: { bindings?: Record<string, unknown>; [key: string]: unknown };
  /** Time of the runtime's timers (alarms, idle hibernation): `"real"` (default, as on Cloudflare) or `"virtual"` (moved by `workerRuntime().clock.advance(ms)`). */
  clock?: "real" | "virtual";
  /** Idle time before an object hibernates; default: the config's `torpor.hibernate_after_ms`, else the runtime's 10 s. */
  hibernateAfterMs?: number;
}

/** The module ids the plugin serves. */
const CLOUDFLARE_TEST = "cloudflare:test";
const CLOUDFLARE_WORKERS = "cloudflare:workers";
const WORKER_CONFIG = "virtual:torpor/worker-config";
const RESOLVED_WORKER_CONFIG = `\0${WORKER_CONFIG}`;
/** Ids of Text, Data and CompiledWasm imports (wrangler's module rules): `\0torpor-module:<type>:<file>`. */
const MODULE_RULE_PREFIX = "\0torpor-module:";

const here = dirname(fileURLToPath(import.meta.url));
// Running from the TypeScript source (this repository) or from the built package.
const fromSource = import.meta.url.endsWith(".ts");
const ext = fromSource ? ".ts" : ".js";
const modulePath = (name: string) => resolve(here, `${name}${ext}`);

/**
 * Runs tests written for Cloudflare's vitest integration on Torpor: reads
 * the wrangler config, loads the Worker's main module (with
 * `cloudflare:workers` mapped) and serves `cloudflare:test`, in process.
 * Each test file gets its own runtime with empty storage.
 *
 * @example
 * // vitest.config.ts
 * import { torpor } from "@torpor/testing/vitest";
 * import { defineConfig } from "vitest/config";
 *
 * export default defineConfig({
 *   plugins: [torpor({ wrangler: { configPath: "./wrangler.jsonc" } })],
 * });
 */
export function torpor(options: TorporPluginOptions | (() => TorporPluginOptions | Promise<TorporPluginOptions>) = {}): Plugin {
  let worker: WorkerModuleConfig | undefined;
  let warnings: string[] = [];
  let moduleRules: ModuleRules = defaultModuleRules();
  return {
    name: "torpor:vitest",
    // Before Vite's own handling of .wasm and asset imports: module rules decide, as in wrangler.
    enforce: "pre",
    async config(userConfig) {
      const resolvedOptions = typeof options === "function" ? await options() : options;
      const root = resolve(userConfig.root ?? process.cwd());
      ({ worker, warnings, moduleRules } = workerConfig(resolvedOptions, root));
      // In this repository the packages run from their TypeScript source (the "@torpor/source" export condition).
      const conditions = fromSource ? { conditions: ["@torpor/source", "module", "node", "development|production"] } : {};
      return {
        ssr: { resolve: { ...conditions } },
        // One vitest for the Worker's tests and this package's runtime side, whichever
        // copy this package would find from its own directory (a linked workspace package).
        resolve: { dedupe: ["vitest"], ...conditions },
        test: { setupFiles: [modulePath("setup")] },
      };
    },
    configResolved(config) {
      for (const warning of warnings) config.logger.warn(`[torpor] ${warning}`);
    },
    async resolveId(id, importer) {
      if (id === CLOUDFLARE_TEST) return modulePath("cloudflare-test");
      const rule = id.startsWith("\0") ? null : matchModuleRule(moduleRules, id);
      if (rule !== null) {
        if (rule.removed) this.error(removedRuleMessage(id, rule.matcher.rule));
        // The file itself (wrangler's `?module` suffix is only a marker).
        const file = await this.resolve(id.replace(/\?module$/, ""), importer, { skipSelf: true });
        return file === null ? null : `${MODULE_RULE_PREFIX}${rule.matcher.type}:${file.id.replace(/\?.*$/, "")}`;
      }
      if (id === WORKER_CONFIG) return RESOLVED_WORKER_CONFIG;
      if (id === CLOUDFLARE_WORKERS) {
        // Resolved from this package, so the CLI's module (and its `env`) is the one the runtime side sets.
        const resolved = await this.resolve("@torpor/cli/cloudflare-workers", modulePath("plugin"), { skipSelf: true });
        return resolved ?? null;
      }
      if (id.startsWith("cloudflare:")) {
        // cloudflare:email, cloudflare:sockets…: core's map, as the CLI's loader uses; any other throws one error naming the module.
        const resolved = await this.resolve(resolveCloudflareModule(id), modulePath("plugin"), { skipSelf: true });
        return resolved ?? null;
      }
      return null;
    },
    load(id) {
      if (id.startsWith(MODULE_RULE_PREFIX)) {
        const rest = id.slice(MODULE_RULE_PREFIX.length);
        const colon = rest.indexOf(":");
        return moduleSource(rest.slice(0, colon) as ModuleRuleType, rest.slice(colon + 1));
      }
      if (id !== RESOLVED_WORKER_CONFIG || worker === undefined) return null;
      return [
        `export const config = ${JSON.stringify(worker)};`,
        // Imported through Vite, so the Worker and the tests share one module instance (and TypeScript works).
        `export const loadMain = () => import(${JSON.stringify(worker.main)});`,
      ].join("\n");
    },
  };
}

/** Reads the wrangler config as the CLI does and keeps what the test runtime needs. */
function workerConfig(options: TorporPluginOptions, root: string): { worker: WorkerModuleConfig; warnings: string[]; moduleRules: ModuleRules } {
  if (options.wrangler?.environment !== undefined) {
    throw new TestingError(
      "ERR_TEST_CONFIG",
      `torpor(): wrangler.environment ${JSON.stringify(options.wrangler.environment)} is not supported: Torpor reads the top-level configuration only. Remove the option.`,
    );
  }
  const configPath = options.wrangler?.configPath;
  const config: WorkerConfig | null = configPath === undefined ? null : readConfig(resolve(root, configPath));
  const main = options.main !== undefined ? resolve(root, options.main) : config?.main;
  if (main === undefined) {
    throw new TestingError(
      "ERR_TEST_CONFIG",
      configPath === undefined
        ? 'torpor(): no Worker entry. Pass wrangler: { configPath: "./wrangler.jsonc" } (a config with "main") or main: "./src/index.ts".'
        : `torpor(): ${resolve(root, configPath)} has no "main"; add it or pass main: "./src/index.ts".`,
    );
  }
  return {
    worker: {
      main,
      // Paths in the config (assets.directory) are relative to it, as for torpor dev.
      configDir: config?.path != null ? dirname(config.path) : dirname(main),
      bindings: config?.bindings ?? [],
      name: config?.name,
      services: config?.services ?? [],
      bindingConfig: config?.bindingConfig ?? {},
      vars: { ...config?.vars, ...options.miniflare?.bindings },
      clock: options.clock ?? "real",
      limits: inProcessLimits(mergeLimits({ hibernateAfterMs: options.hibernateAfterMs }, config?.torpor ?? {})),
      compatibilityDate: config?.compatibilityDate,
      compatibilityFlags: config?.compatibilityFlags ?? [],
    },
    warnings: [...(config?.warnings ?? []), ...otherWorkers(config)],
    moduleRules: config?.moduleRules ?? defaultModuleRules(),
  };
}

/** One warning per service binding to another Worker: the plugin runs only the Worker under test. */
function otherWorkers(config: WorkerConfig | null): string[] {
  return (config?.services ?? [])
    .filter((s) => s.service !== config?.name)
    .map(
      (s) =>
        `${config?.path}: the service binding ${s.binding} names the Worker "${s.service}", which this plugin does not run (only the Worker under test, "${config?.name ?? "(no name)"}"): its calls fail with ERR_SERVICE_NOT_FOUND.`,
    );
}
