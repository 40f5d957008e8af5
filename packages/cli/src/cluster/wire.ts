/**
 * How requests, responses and errors cross between cluster processes. The
 * IPC channel uses Node's "advanced" serialization (the structured clone
 * algorithm), so RPC values travel as they are; what the algorithm does not
 * keep (a Request, a Response, an error's class and `code`) is encoded here.
 */
import { Response, TorporError, type TorporErrorCode, type WebSocket } from "@torpor/core";

/** A `Request` on the wire (bodies are read whole: routed requests do not stream). */
export interface WireRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
}

/** A `Response` on the wire; `upgrade` names a WebSocket the owner holds for this request. */
export interface WireResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
  upgrade?: { token: number; owner: number };
}

/** An error on the wire: enough to rebuild the same class, message and code. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export async function encodeRequest(request: Request): Promise<WireRequest> {
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  return {
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    body: hasBody ? new Uint8Array(await request.arrayBuffer()) : null,
  };
}

export function decodeRequest(wire: WireRequest): Request {
  return new Request(wire.url, { method: wire.method, headers: wire.headers, body: wire.body === null ? null : Buffer.from(wire.body) });
}

export async function encodeResponse(response: globalThis.Response): Promise<WireResponse> {
  return {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    body: response.body === null ? null : new Uint8Array(await response.arrayBuffer()),
  };
}

export function decodeResponse(wire: WireResponse, webSocket?: WebSocket): Response {
  const init = { status: wire.status, statusText: wire.statusText, headers: wire.headers };
  if (webSocket !== undefined) return new Response(null, { ...init, webSocket });
  // 204/304 and friends must not carry a body, even an empty one.
  return new Response(wire.body === null || wire.body.byteLength === 0 ? null : Buffer.from(wire.body), init);
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
