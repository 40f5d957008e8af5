/**
 * The Worker entry's third argument (Cloudflare's `ExecutionContext`).
 * `waitUntil` work is tracked so a graceful shutdown waits for it.
 */
export class ExecutionContext {
  readonly #pending: Set<Promise<unknown>>;
  readonly #onError: (error: unknown) => void;
  /** Cloudflare's per-entrypoint props; empty here. */
  readonly props: Record<string, unknown> = {};
  /** Loopback bindings of the Worker's own exports (namespaces by class name, entrypoints), as on Cloudflare. */
  readonly exports: Record<string, unknown>;

  /** @internal created by the runtime per request. */
  constructor(pending: Set<Promise<unknown>>, onError: (error: unknown) => void, exports: Record<string, unknown> = {}) {
    this.#pending = pending;
    this.#onError = onError;
    this.exports = exports;
  }

  /** Lets `promise` finish after the response is sent; a graceful shutdown waits for it. */
  waitUntil(promise: Promise<unknown>): void {
    const tracked = Promise.resolve(promise)
      .catch(this.#onError)
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** There is no origin to fall back to when self-hosted; accepted for compatibility. */
  passThroughOnException(): void {}
}
