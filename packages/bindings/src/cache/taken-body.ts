/**
 * A response body taken over at once, as workerd's `Cache.put` does: it
 * starts serializing the response before it waits for the output locks, so
 * the caller sees the body disturbed (`bodyUsed` true; reading it fails) as
 * soon as `put()` returns, whatever the wait. Without this, code that puts a
 * response and then reads or returns it would race the gate: it could read
 * the body while `put()` waits, and the cache would store an empty entry.
 */

/**
 * Locks `body` and starts its first read now (which marks it disturbed), and
 * returns a stream that yields everything it holds, that first chunk
 * included. Cancelling the returned stream cancels `body`.
 */
export function takeBody(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let first: Promise<ReadableStreamReadResult<Uint8Array>> | null = reader.read();
  // Nobody may ever pull (the gate rejects): a failed first read is reported by pull, not as unhandled.
  first.catch(() => {});
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = first ?? reader.read();
      first = null;
      const { value, done } = await next;
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
