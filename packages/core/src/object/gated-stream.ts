/**
 * A byte stream passed on chunk by chunk behind an owner's output gate, as
 * workerd gates every write of a stream by the writer's output locks: a
 * chunk leaves only once the writes its object made so far are durable, and
 * never if they failed or the instance was reset (the stream then errors).
 * Used for response bodies an object streams (stubs/gated-body.ts) and for
 * request bodies it streams into a subrequest (http/gated-request-body.ts).
 */
import type { OutputOwner } from "../owner-context.ts";

/**
 * `stream` behind the gate of `owner`. The barrier is asked when each chunk
 * is passed on, not when it was written: it may hold a chunk for writes made
 * after it (never for less than the writes before it).
 */
export function gatedStream(stream: ReadableStream<Uint8Array>, owner: OutputOwner): ReadableStream<Uint8Array> {
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const barrier = owner.outputBarrier();
        if (barrier === null) controller.enqueue(chunk);
        else return barrier.then(() => controller.enqueue(chunk));
      },
    }),
  );
}
