/**
 * Request bodies that object code streams into a subrequest (a
 * `ReadableStream` it feeds, or `request.body` of a request it received,
 * piped into `fetch()` or `stub.fetch()`), behind its output gate write by
 * write, like any other output: workerd gates each write of a stream by the
 * writer's output locks. The subrequest itself already leaves only after the
 * writes before it (afterOutputGate); this covers the chunks after that.
 */
import { afterOutputGate, currentIncarnation } from "../object/incarnation.ts";
import { gatedStream } from "../object/gated-stream.ts";
import { isStreamInit } from "./streamed-body.ts";

/**
 * The request to send instead of `(input, init)` when object code sends a
 * streamed body: the same request with its body behind the caller's gate
 * chunk by chunk. Null when nothing needs it (not object code, no body, or a
 * body given whole in `init`). Throws what `new Request(input, init)` throws.
 */
export function requestWithGatedBody(input: RequestInfo | URL, init?: RequestInit): Request | null {
  const incarnation = currentIncarnation();
  if (incarnation === undefined) return null;
  const initBody = init?.body;
  // A Request's body is a stream whatever it was made from: one passed as input is gated (a superset).
  const streamed = initBody != null ? isStreamInit(initBody) : input instanceof Request && input.body !== null;
  if (!streamed) return null;
  const request = new Request(input, init);
  return new Request(request, { body: gatedStream(request.body!, incarnation), duplex: "half" } as RequestInit);
}

/**
 * A subrequest of `fetch()` or `stub.fetch()`: `send` runs once the caller's
 * writes so far are durable (afterOutputGate), given the request with its
 * streamed body gated (`requestWithGatedBody`), or `input` and `init` as they
 * came when nothing needs that. Rejects at once, before any wait, with what
 * `new Request(input, init)` throws.
 */
export function sendBehindGate<T>(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  send: (input: RequestInfo | URL, init?: RequestInit) => Promise<T>,
): Promise<T> {
  let gated: Request | null;
  try {
    gated = requestWithGatedBody(input, init);
  } catch (error) {
    return Promise.reject(error);
  }
  return afterOutputGate(() => (gated === null ? send(input, init) : send(gated)));
}
