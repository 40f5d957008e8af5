/**
 * Where a server listens and stores, read from the flags and the config: what
 * a single process, a cluster supervisor and `torpor dev` all need, without
 * the Worker runtime (a supervisor never loads it: serve.ts does).
 */
import { dirname, join, resolve } from "node:path";
import type { CliArgs } from "./args.ts";
import { findConfig, readConfig, type WorkerConfig } from "./config.ts";
import { defaultModuleRules } from "./module-rules.ts";

const EMPTY_CONFIG: WorkerConfig = {
  path: null,
  main: undefined,
  compatibilityDate: undefined,
  compatibilityFlags: [],
  vars: {},
  bindings: [],
  bindingConfig: {},
  dev: {},
  torpor: {},
  moduleRules: defaultModuleRules(),
  warnings: [],
};

/** What both a single process and a cluster supervisor read from the flags and the config. */
export interface ServeSettings {
  configPath: string | null;
  config: WorkerConfig;
  persistTo: string;
  port: number;
  ip: string;
}

/** Finds and reads the config, and resolves where to listen and store. */
export function serveSettings(args: CliArgs, cwd: string): ServeSettings {
  const configPath = findConfig(args.config, cwd);
  const config = configPath === null ? EMPTY_CONFIG : readConfig(configPath);
  const persistTo = args.persistTo !== undefined ? resolve(cwd, args.persistTo) : join(config.path !== null ? dirname(config.path) : cwd, ".torpor", "state");
  return { configPath, config, persistTo, port: args.port ?? config.dev.port ?? 8787, ip: args.ip ?? config.dev.ip ?? "127.0.0.1" };
}

export { listenError } from "./listen-error.ts";
