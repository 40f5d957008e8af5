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
import { gatedStream } from "../object/gated-stream.ts";
import type { OutputOwner } from "../owner-context.ts";

/** `response` with its body passed through the gate of `owner` (the incarnation that returned it; see gated-stream.ts). */
export function gateBody(response: Response, owner: OutputOwner): Response {
  const body = response.body;
  if (body === null) return response;
  // Not a 101 (the caller checks): the platform's Response carries everything else an object's response has.
  return new NativeResponse(gatedStream(body, owner), { status: response.status, statusText: response.statusText, headers: response.headers });
}
