import { TorporError, formatCount } from "./errors.ts";

/**
 * A request/response pair answered by the runtime without waking the object
 * (Cloudflare's `WebSocketRequestResponsePair`): when a hibernatable socket
 * receives exactly `request`, the runtime sends `response` and records the time.
 *
 * @example
 * ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
 */
export class WebSocketRequestResponsePair {
  readonly #request: string;
  readonly #response: string;

  constructor(request: string, response: string) {
    if (typeof request !== "string" || typeof response !== "string") {
      throw new TorporError(
        "ERR_INVALID_AUTO_RESPONSE",
        `WebSocketRequestResponsePair takes two strings (request, response); got ${typeof request} and ${typeof response}.`,
      );
    }
    this.#request = request;
    this.#response = response;
  }

  get request(): string {
    return this.#request;
  }

  get response(): string {
    return this.#response;
  }
}

/** Checks a pair against the configured length limit before it is installed. */
export function checkAutoResponse(pair: unknown, limit: number): WebSocketRequestResponsePair {
  if (!(pair instanceof WebSocketRequestResponsePair)) {
    throw new TorporError(
      "ERR_INVALID_AUTO_RESPONSE",
      "setWebSocketAutoResponse() takes a WebSocketRequestResponsePair, or nothing to remove the current pair.",
    );
  }
  for (const [which, value] of [
    ["request", pair.request],
    ["response", pair.response],
  ] as const) {
    if (value.length > limit) {
      throw new TorporError(
        "ERR_AUTO_RESPONSE_TOO_LONG",
        `Auto-response ${which} is ${formatCount(value.length)} characters; the limit is ${formatCount(limit)}. Use a short heartbeat such as "ping"/"pong".`,
      );
    }
  }
  return pair;
}
