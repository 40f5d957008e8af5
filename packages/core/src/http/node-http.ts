import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Duplex } from "node:stream";
import { TorporError } from "../errors.ts";

/** A cap on a request body that streams through: `exceeded` answers the client, the Worker's read then fails. */
export interface BodyLimit {
  maxBytes: number;
  /** Called once when the body goes over; resolves when the refusal was sent. */
  exceeded(): Promise<void>;
}

/** Turns a Node request into a Fetch API `Request` (the body streams through, not buffered). Throws on a target that is no URL. */
export function toRequest(req: IncomingMessage, fallbackHost: string, limit?: BodyLimit): Request {
  const url = `http://${req.headers.host ?? fallbackHost}${req.url ?? "/"}`;
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  let body: ReadableStream<Uint8Array> | null = null;
  if (hasBody) {
    body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    if (limit !== undefined) body = body.pipeThrough(countingBytes(limit));
  }
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    body,
    // Required by Node's fetch for a streamed body.
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
}

function countingBytes(limit: BodyLimit): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    async transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen <= limit.maxBytes) {
        controller.enqueue(chunk);
        return;
      }
      // Erroring the stream destroys the request and its socket: the 413 goes out first.
      await limit.exceeded();
      throw new TorporError(
        "ERR_REQUEST_BODY_TOO_LARGE",
        `The request body is over the server's limit of ${limit.maxBytes} bytes; the client was answered 413.`,
      );
    },
  });
}

/** Writes a Fetch API `Response` to a Node response, streaming the body. */
export async function writeResponse(res: ServerResponse, response: globalThis.Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  // A client that goes away (or a response the server cut) cancels the body, so its producer (an SSE loop, a
  // download) stops instead of waiting for a drain that never comes and holding the request open for good.
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  res.once("close", cancel);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await drainedOrClosed(res);
    }
  } finally {
    res.off("close", cancel);
  }
  if (!res.destroyed) res.end();
}

/** Resolves when `res` can take more, or is gone (the listeners go either way). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Writes a whole HTTP response on a raw socket (an upgrade request that was refused), then closes it. */
export async function writeRawResponse(socket: Duplex, response: globalThis.Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  socket.end(rawResponse(response.status, body, headers, response.statusText));
}

/** An HTTP/1.1 response as bytes, with `connection: close` (the socket is closed after it). */
function rawResponse(status: number, body: Buffer, headers: Record<string, string>, statusText = ""): Buffer {
  let head = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || ""}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (name !== "content-length" && name !== "connection" && name !== "transfer-encoding") head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/**
 * The status line and JSON body for a request Node's parser refused
 * (oversized headers 431, header timeout 408, anything malformed 400), or
 * null when nothing can be sent: the peer reset the connection, or a
 * response on it has started (a pipelined request) and a second status line
 * would corrupt it. Node's default handler makes the same choice.
 */
export function clientErrorResponse(error: NodeJS.ErrnoException, socket: Duplex): Buffer | null {
  const started = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage?.headersSent === true;
  if (error.code === "ECONNRESET" || !socket.writable || started) return null;
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "ERR_HEADERS_TOO_LARGE", "The request headers are over the server's limit (maxHeaderBytes)."]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "ERR_REQUEST_TIMEOUT", "The request headers did not arrive within the server's time limit (headersTimeoutMs)."]
        : [400, "ERR_BAD_REQUEST", `Malformed HTTP request (${error.code ?? "parse error"}).`];
  return rawResponse(status, Buffer.from(JSON.stringify({ error: { code, message } })), { "content-type": "application/json" });
}
