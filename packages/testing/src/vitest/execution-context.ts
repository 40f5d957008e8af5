import { ExecutionContext as CoreExecutionContext } from "@torpor/core";

const kWaitUntil = Symbol("torpor.waitUntil");

/** An `ExecutionContext` whose `waitUntil` work a test can wait for (and whose rejections it sees); named as Cloudflare's. */
class ExecutionContext extends CoreExecutionContext {
  readonly [kWaitUntil]: { pending: Set<Promise<unknown>>; errors: unknown[] };

  constructor(pending: Set<Promise<unknown>>, errors: unknown[]) {
    super(pending, (error) => void errors.push(error));
    this[kWaitUntil] = { pending, errors };
  }
}

/**
 * An `ExecutionContext` for calling a Worker's handlers directly
 * (`worker.fetch(request, env, ctx)`), as in Cloudflare's `cloudflare:test`.
 *
 * @example
 * const ctx = createExecutionContext();
 * const response = await worker.fetch(request, env, ctx);
 * await waitOnExecutionContext(ctx);
 */
export function createExecutionContext(): CoreExecutionContext {
  return new ExecutionContext(new Set(), []);
}

/**
 * Waits until every `ctx.waitUntil()` promise settled, including ones
 * added while waiting. Rejects with the rejection when one promise
 * rejected, with an `AggregateError` when several did (Cloudflare's
 * semantics).
 */
export async function waitOnExecutionContext(ctx: CoreExecutionContext): Promise<void> {
  const state = typeof ctx === "object" && ctx !== null ? (ctx as Partial<ExecutionContext>)[kWaitUntil] : undefined;
  if (state === undefined) {
    // Cloudflare's message, word for word: tests may match on it.
    throw new TypeError(
      "Failed to execute 'getWaitUntil': parameter 1 is not of type 'ExecutionContext'.\nYou must call 'createExecutionContext()' or 'createPagesEventContext()' to get an 'ExecutionContext' instance.",
    );
  }
  while (state.pending.size > 0) await Promise.allSettled([...state.pending]);
  const errors = state.errors.splice(0);
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors);
}
