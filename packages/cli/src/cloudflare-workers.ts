/**
 * What `import … from "cloudflare:workers"` gives Worker code under Torpor
 * (the CLI's resolve hook maps the specifier to this module).
 */
import type { ExecutionContext } from "@torpor/core";
import { liveEnv } from "./worker-env.ts";

export { DurableObject } from "@torpor/core";

/**
 * Base class of a class-based Worker entry (`export default class extends
 * WorkerEntrypoint`): stores `ctx` and `env`; `fetch(request)` handles requests.
 */
export class WorkerEntrypoint<Env = unknown> {
  protected readonly ctx: ExecutionContext;
  protected readonly env: Env;

  constructor(ctx: ExecutionContext, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }

  fetch?(request: Request): Response | Promise<Response>;
}

/**
 * Cloudflare's RPC targets pass by reference; Torpor's RPC is structured clone
 * only, so they cannot work. Constructing one says so instead of failing later.
 */
export class RpcTarget {
  constructor() {
    throw new TypeError(
      "RpcTarget is not supported by Torpor: RPC arguments and results are structured-cloned, so objects cannot be passed by reference. Return plain data instead.",
    );
  }
}

/** The Worker's env (vars and Durable Object namespaces), importable anywhere, as on Cloudflare. */
export const env: Record<string, unknown> = liveEnv;
