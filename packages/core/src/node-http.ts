import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Duplex } from "node:stream";

/** Turns a Node request into a Fetch API `Request` (the body streams through, not buffered). */
export function toRequest(req: IncomingMessage, fallbackHost: string): Request {
  const url = `http://${req.headers.host ?? fallbackHost}${req.url ?? "/"}`;
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    // Required by Node's fetch for a streamed body.
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
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
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
  }
  res.end();
}

/** Writes a whole HTTP response on a raw socket (an upgrade request that was refused), then closes it. */
export async function writeRawResponse(socket: Duplex, response: globalThis.Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${response.statusText || statusText(response.status)}\r\n`;
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "connection" && name !== "transfer-encoding") head += `${name}: ${value}\r\n`;
  });
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head), body]));
}

function statusText(status: number): string {
  return { 400: "Bad Request", 404: "Not Found", 426: "Upgrade Required", 500: "Internal Server Error" }[status] ?? "";
}
