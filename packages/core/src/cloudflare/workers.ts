/**
 * What `import … from "cloudflare:workers"` gives Worker code under Torpor
 * (the CLI's resolve hook maps the specifier here; see cloudflare-modules.ts).
 */
import type { ExecutionContext } from "../object/execution-context.ts";
import { TorporError } from "../errors.ts";
import { liveEnv, liveExports } from "../runtime/worker-env.ts";

export { DurableObject } from "../object/durable-object.ts";
export { RpcStub } from "../stubs/rpc-stub.ts";
export { RpcTarget } from "../stubs/rpc-target.ts";

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
 * Cloudflare Workflows' base class. Importable, so modules that export a
 * workflow load; Torpor runs no workflows (the `workflows` config key is
 * ignored with a warning), and constructing one says so.
 */
export class WorkflowEntrypoint<Env = unknown, _Params = unknown> {
  protected readonly ctx: ExecutionContext;
  protected readonly env: Env;

  constructor(ctx: ExecutionContext, env: Env) {
    this.ctx = ctx;
    this.env = env;
    throw new TorporError(
      "ERR_NOT_SUPPORTED",
      `Workflows are not supported by Torpor: ${new.target.name} cannot run. Durable Object alarms (ctx.storage.setAlarm) can schedule multi-step work instead.`,
    );
  }
}

/** The Worker's env (vars and Durable Object namespaces), importable anywhere, as on Cloudflare. */
export const env: Record<string, unknown> = liveEnv;

/**
 * Loopback bindings of the Worker's own exports, as on Cloudflare: the
 * namespace of each exported Durable Object class, and a service stub of
 * each exported entrypoint (`exports.default.fetch(request)`). The same
 * record as `ctx.exports`.
 */
export const exports: Record<string, unknown> = liveExports;
