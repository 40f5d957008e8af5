import type { Clock, Logger } from "@torpor/core";
import type { z } from "zod";

/** What a binding is given when a Worker starts: where its data lives, where the config is, where to log. */
export interface BindingContext {
  /**
   * The data directory (`--persist-to`; `.torpor/state` beside the config by default). Each plugin keeps
   * its files in a folder of its own under it (`kv/`, `d1/`, `r2/`…). Several processes of one cluster
   * share it: a plugin's files must stay consistent under concurrent access from all of them.
   */
  dataDir: string;
  /** The directory of the wrangler config (paths in the config are relative to it), or the working directory without one. */
  configDir: string;
  logger: Logger;
  /** Time for expirations and timestamps (tests pass a virtual clock); the system clock by default. */
  clock?: Clock | undefined;
}

/** The env values made from one config key, and how to release what they hold (files, databases). */
export interface BoundValues {
  env: Record<string, unknown>;
  close(): void | Promise<void>;
  /**
   * For a binding that answers requests before the Worker (static assets):
   * the response to a request, calling `worker` when the Worker should answer
   * (`worker` is undefined when the Worker has no fetch handler).
   */
  route?(request: Request, worker: ((request: Request) => Promise<Response>) | undefined): Response | Promise<Response>;
}

/**
 * One wrangler config key that becomes bindings of the Worker (miniflare's `plugins/<binding>/` shape):
 * its schema exactly as Cloudflare documents the key, the env names it binds, and how it makes them.
 * Every plugin is listed once in `plugins.ts`; the CLI and the vitest plugin read the config through that list.
 */
export interface BindingPlugin<Config = unknown> {
  /** The wrangler config key, e.g. `"kv_namespaces"`. */
  readonly key: string;
  /** The key's value as Cloudflare documents it; parse output is JSON (it crosses to test workers). */
  readonly schema: z.ZodType<Config>;
  /** The env names this value binds (checked for clashes with vars and other bindings). */
  names(config: Config): string[];
  /** One line each for parts of a valid value that have no effect here (`file` names the config file). */
  warnings?(config: Config, file: string): string[];
  /** Opens what the bindings need (databases, folders under `context.dataDir`) and returns them. */
  create(config: Config, context: BindingContext): BoundValues | Promise<BoundValues>;
}

/** Declares a plugin with its config type inferred from the schema. */
export function definePlugin<Config>(plugin: BindingPlugin<Config>): BindingPlugin<Config> {
  return plugin;
}
