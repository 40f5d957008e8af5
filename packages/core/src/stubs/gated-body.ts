/**
 * The body of a response an object returned, behind its output gate per
 * chunk, as workerd gates every stream write by the writer's output locks:
 * a chunk the object writes after a storage write (a `ReadableStream` body it
 * feeds later) reaches the client only once that write is durable. The
 * response itself already waited for the writes made before it was
 * returned; this covers what the object streams afterwards. From an instance
 * that was reset, the body errors instead (nothing more of it leaves).
 */
import { NativeResponse } from "../http/response.ts";
import type { OutputOwner } from "../owner-context.ts";

/**
 * `response` with its body passed through the gate of `owner` (the
 * incarnation that returned it). The barrier is asked when each chunk is
 * passed on, not when it was written: it may hold a chunk for writes made
 * after it (never for less than the writes before it).
 */
export function gateBody(response: Response, owner: OutputOwner): Response {
  const body = response.body;
  if (body === null) return response;
  const gated = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const barrier = owner.outputBarrier();
        if (barrier === null) controller.enqueue(chunk);
        else return barrier.then(() => controller.enqueue(chunk));
      },
    }),
  );
  // Not a 101 (the caller checks): the platform's Response carries everything else an object's response has.
  return new NativeResponse(gated, { status: response.status, statusText: response.statusText, headers: response.headers });
}
