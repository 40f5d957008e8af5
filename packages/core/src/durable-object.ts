import type { DurableObjectState } from "./state.ts";

/**
 * The base class of a Durable Object, as in `cloudflare:workers`. Extending
 * it is optional; it stores `ctx` and `env`, and its public methods are
 * callable over RPC from a stub.
 *
 * @example
 * export class Counter extends DurableObject<Env> {
 *   async increment() {
 *     const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
 *     await this.ctx.storage.put("n", n);
 *     return n;
 *   }
 * }
 */
export class DurableObject<Env = unknown> {
  protected readonly ctx: DurableObjectState;
  protected readonly env: Env;

  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}
