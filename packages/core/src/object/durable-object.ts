import type { DurableObjectState } from "./state.ts";
import type { WebSocket } from "../websocket/web-socket.ts";

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

  // Optional handlers, declared (not defined) as in Cloudflare's types, so subclasses may mark them `override`.
  fetch?(request: Request): Response | Promise<Response>;
  alarm?(alarmInfo?: { retryCount: number; isRetry: boolean }): void | Promise<void>;
  webSocketMessage?(ws: WebSocket, message: string | ArrayBuffer): void | Promise<void>;
  webSocketClose?(ws: WebSocket, code: number, reason: string, wasClean: boolean): void | Promise<void>;
  webSocketError?(ws: WebSocket, error: unknown): void | Promise<void>;
}
