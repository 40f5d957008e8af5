/**
 * How requests, responses and errors cross between cluster processes. The
 * IPC channel uses Node's "advanced" serialization (the structured clone
 * algorithm), so RPC values travel as they are; what the algorithm does not
 * keep (a Request, a Response, an error's class and `code`) is encoded here.
 * Bodies are not carried here: they stream beside the call (body-streams.ts),
 * named by the writer's stream id.
 */
import type { TorporErrorCode } from "@torpor/core";
import { TorporError } from "@torpor/core/errors";
import { type BodyStreams, WINDOW_BYTES } from "./body-streams.ts";

/** A streamed body: the writer's id for it. */
export interface WireBody {
  stream: number;
}

/** A `Request` on the wire. */
export interface WireRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: WireBody | null;
}

/** A `Response` on the wire; `upgrade` names a WebSocket the owner (a process serial) holds for this request. */
export interface WireResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: WireBody | null;
  upgrade?: { token: number; owner: number };
}

/** An error on the wire: enough to rebuild the same class, message and code. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** A request to route; `body` is the id its body streams under (BodyStreams.outgoing), if it has one. */
export function encodeRequest(request: Request, body: number | null): WireRequest {
  return { method: request.method, url: request.url, headers: [...request.headers], body: body === null ? null : { stream: body } };
}

/** The request a routed fetch runs with; its body streams from process `from`. */
export function decodeRequest(wire: WireRequest, bodies: BodyStreams, from: number): Request {
  const body = wire.body === null ? null : bodies.incoming(from, wire.body.stream, true);
  return new Request(wire.url, { method: wire.method, headers: wire.headers, body, ...(body !== null ? { duplex: "half" } : {}) } as RequestInit);
}

/** A response to send back to process `to`; its body starts streaming at once (the first window needs no credit), on the reply's path (`direct`: the channel to `to`). */
export function encodeResponse(response: globalThis.Response, bodies: BodyStreams, to: number, direct = false): WireResponse {
  return {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    body: response.body === null ? null : { stream: bodies.outgoing(response.body, to, WINDOW_BYTES, direct) },
  };
}

/**
 * A routed call's owner process exited before answering: the error its caller gets, whether the supervisor relayed the call
 * or it went direct. `code`: its exit code or signal, when the one reporting knows it (a direct caller sees only its channel close).
 */
export function ownerExitedError(code?: number | string): WireError {
  const how = code === undefined ? "" : ` (${code})`;
  return {
    name: "TorporError",
    code: "ERR_OBJECT_OWNER_EXITED",
    message: `The worker process hosting this object exited${how} before answering; the object restarts with its committed state. Retry if the call is safe to repeat.`,
  };
}

export function encodeError(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
      ...(error.stack !== undefined ? { stack: error.stack } : {}),
    };
  }
  return { name: "Error", message: String(error) };
}

const DOM_NAMES = new Set([
  "AbortError",
  "DataCloneError",
  "InvalidStateError",
  "NotSupportedError",
  "TimeoutError",
  "NetworkError",
  "OperationError",
  "QuotaExceededError",
]);
const STANDARD: Record<string, new (message: string) => Error> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

/** Rebuilds an error with the class and message the owner threw (as a local call would show them). */
export function decodeError(wire: WireError): Error {
  let error: Error;
  if (wire.name === "TorporError" && wire.code !== undefined) error = new TorporError(wire.code as TorporErrorCode, wire.message);
  else if (wire.name in STANDARD) error = new STANDARD[wire.name]!(wire.message);
  else if (DOM_NAMES.has(wire.name)) error = new DOMException(wire.message, wire.name);
  else {
    error = new Error(wire.message);
    error.name = wire.name;
    if (wire.code !== undefined) (error as { code?: string }).code = wire.code;
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
