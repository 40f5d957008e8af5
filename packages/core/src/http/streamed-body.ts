/**
 * Which responses carry a body their code can still write to after
 * returning them: one made from a `ReadableStream` (or another async
 * iterable). Only those need the object's output gate per chunk
 * (stubs/gated-body.ts); a body given whole (a string, bytes, a Blob, form
 * data) was complete when the response was made, and the response itself
 * already waits for the writes before it. Knowing this at construction
 * spares every other object response a stream pipe.
 */

/** Responses whose body init was a stream (held weakly: a response is garbage once read). */
const streamed = new WeakSet<object>();

/** True when `body` (a `BodyInit`) can produce chunks after the response (or request) is made. */
export function isStreamInit(body: unknown): boolean {
  if (body === null || typeof body !== "object") return false;
  if (body instanceof ReadableStream) return true;
  // node:stream Readables and async generators: undici takes any async iterable as a body.
  return Symbol.asyncIterator in body;
}

/** Notes `response` as streamed when its `body` init is a stream (called by Torpor's `Response` constructor). */
export function noteBodyInit(response: object, body: unknown): void {
  if (isStreamInit(body)) streamed.add(response);
}

/** `copy` (a clone of `original`) is streamed if the original is: its body is a branch of the same stream. */
export function noteClone(original: object, copy: object): void {
  if (streamed.has(original)) streamed.add(copy);
}

/** True when `response`'s body was made from a stream its code may still be writing. */
export function hasStreamedBody(response: object): boolean {
  return streamed.has(response);
}
