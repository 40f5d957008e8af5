/**
 * What a client sees at each HTTP limit, over real sockets: a status line
 * and a JSON error, never a silently destroyed socket, and never the Worker
 * or an object running for a request that is refused.
 */
import { Socket } from "node:net";
import { expect, onTestFinished, test } from "vitest";
import { DurableObject, Response, WebSocketPair, type DurableObjectNamespace, type WebSocket } from "../src/index.ts";
import { startRuntime } from "./helpers.ts";

let objectFetches = 0;
class Counted extends DurableObject {
  override fetch() {
    objectFetches++;
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
}

let workerCalls = 0;
const worker = {
  async fetch(request: Request, env: { C: DurableObjectNamespace }) {
    workerCalls++;
    const url = new URL(request.url);
    if (url.pathname === "/upload") return new Response(`got ${(await request.arrayBuffer()).byteLength}`);
    if (url.pathname === "/ws") return env.C.getByName("x").fetch(request);
    return new Response("ok");
  },
};

/** A raw TCP client: writes bytes, reads until the server closes or a whole response head arrived. */
async function raw(port: number) {
  const socket = new Socket();
  onTestFinished(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => socket.connect(port, "127.0.0.1", resolve).once("error", reject));
  let received = "";
  const listeners: Array<() => void> = [];
  socket.setEncoding("latin1").on("data", (chunk: string) => {
    received += chunk;
    for (const l of listeners.splice(0)) l();
  });
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  return {
    socket,
    write: (text: string) => socket.write(text),
    /** Everything the server sent until it closed the connection. */
    async untilClosed(): Promise<string> {
      await ended;
      return received;
    },
    /** Waits until the received text matches. */
    async until(pattern: RegExp): Promise<string> {
      while (!pattern.test(received)) await new Promise<void>((resolve) => listeners.push(resolve));
      return received;
    },
  };
}

/** The last chunk of a chunked response (the Worker's bodies have no declared length). */
const END_OF_CHUNKED = /\r\n0\r\n\r\n$/;
const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const HANDSHAKE = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";

test("a malformed request gets 400 with a JSON error, then the connection closes", async () => {
  const { port, logger } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch });
  const client = await raw(port);
  client.write("THIS IS NOT HTTP\r\n\r\n");
  const answer = await client.untilClosed();
  expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(answer).toContain('"code":"ERR_BAD_REQUEST"');
  expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
});

test("headers over maxHeaderBytes get 431", async () => {
  const { port } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch, server: { maxHeaderBytes: 1_024 } });
  const client = await raw(port);
  client.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2_048)}\r\n\r\n`);
  const answer = await client.untilClosed();
  expect(answer).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  expect(answer).toContain('"code":"ERR_HEADERS_TOO_LARGE"');
});

test("headers that do not arrive within headersTimeoutMs get 408", async () => {
  const { port } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch, server: { headersTimeoutMs: 100 } });
  const client = await raw(port);
  // Half a request head, then nothing: the server's timer (not the test) ends it.
  client.write("GET / HTTP/1.1\r\nHost: x\r\n");
  const answer = await client.untilClosed();
  expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  expect(answer).toContain('"code":"ERR_REQUEST_TIMEOUT"');
});

test("a body declared over maxRequestBodyBytes gets 413 without running the Worker", async () => {
  workerCalls = 0;
  const { port } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch, server: { maxRequestBodyBytes: 1_000 } });
  const client = await raw(port);
  client.write("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  const answer = await client.untilClosed();
  expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
  expect(answer).toContain('"code":"ERR_REQUEST_BODY_TOO_LARGE"');
  expect(workerCalls).toBe(0);
});

test("a streamed body that crosses maxRequestBodyBytes gets 413; the Worker's read fails and nothing is logged as a Worker error", async () => {
  const { port, url, logger } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch, server: { maxRequestBodyBytes: 1_000 } });
  expect(await (await fetch(`${url}/upload`, { method: "POST", body: "a".repeat(1_000) })).text()).toBe("got 1000");
  const client = await raw(port);
  client.write("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.write(`258\r\n${"a".repeat(600)}\r\n`);
  client.write(`258\r\n${"a".repeat(600)}\r\n`);
  const answer = await client.untilClosed();
  expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
  expect(answer).not.toContain("got ");
  expect(logger.entries.filter((e) => e.level === "error" || e.level === "warn")).toEqual([]);
});

test("connections beyond maxConnections get 503 until one closes", async () => {
  const { port, runtime } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch, server: { maxConnections: 2 } });
  const first = await raw(port);
  first.write(GET);
  await first.until(END_OF_CHUNKED);
  const second = await raw(port);
  second.write(GET);
  await second.until(END_OF_CHUNKED);
  const third = await raw(port);
  third.write(GET);
  const refused = await third.untilClosed();
  expect(refused).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
  expect(refused).toContain('"code":"ERR_TOO_MANY_CONNECTIONS"');
  first.socket.destroy();
  await expect
    .poll(
      async () =>
        await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.status,
          () => 0,
        ),
    )
    .toBe(200);
  expect(runtime.closed).toBe(false);
});

test("bad %-encoding in a path gets 400 from the default router, not a 500 logged as a Worker error", async () => {
  const { url, logger } = await startRuntime({ objects: { C: Counted } });
  const response = await fetch(`${url}/C/%E0%A4%A`);
  expect(response.status).toBe(400);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe("ERR_BAD_REQUEST");
  expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
});

test("a Host that makes no URL gets 400", async () => {
  const { port } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch });
  const client = await raw(port);
  client.write("GET / HTTP/1.1\r\nHost: [\r\n\r\n");
  expect(await client.untilClosed()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
});

test.each([
  ["a missing Sec-WebSocket-Key", `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`],
  ["a malformed Sec-WebSocket-Key", `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}Sec-WebSocket-Key: short\r\n\r\n`],
  [
    "an unsupported version",
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  ],
  [
    "an invalid subprotocol list",
    `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: a,,b\r\n\r\n`,
  ],
])("a handshake with %s is refused with 400 before the Worker or the object runs", async (_what, request) => {
  workerCalls = 0;
  objectFetches = 0;
  const { port } = await startRuntime({ objects: { C: Counted }, fetch: worker.fetch });
  const client = await raw(port);
  client.write(request);
  const answer = await client.untilClosed();
  expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(answer).toContain('"code":"ERR_BAD_HANDSHAKE"');
  expect(workerCalls).toBe(0);
  expect(objectFetches).toBe(0);
});
