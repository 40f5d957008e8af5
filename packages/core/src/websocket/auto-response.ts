import { argumentTypeError, workerdError } from "../errors.ts";

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
    // WebIDL strings, as on workerd: a missing argument is an error, anything else is converted.
    if (arguments.length < 2) throw argumentTypeError("constructor", "WebSocketRequestResponsePair", arguments.length + 1, "string");
    this.#request = String(request);
    this.#response = String(response);
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
    throw argumentTypeError("setWebSocketAutoResponse", "DurableObjectState", 1, "WebSocketRequestResponsePair");
  }
  // workerd measures both in UTF-8 bytes.
  for (const [which, value] of [
    ["Request", pair.request],
    ["Response", pair.response],
  ] as const) {
    const bytes = Buffer.byteLength(value);
    if (bytes > limit) {
      throw workerdError(
        RangeError,
        "ERR_AUTO_RESPONSE_TOO_LONG",
        `${which} cannot be larger than ${limit} bytes. A ${which.toLowerCase()} of size ${bytes} was provided.`,
      );
    }
  }
  return pair;
}
