/**
 * Every row of docs/api.md "Server limits", as a client meets it through
 * `torpor start`, with one process (--workers 1) and in cluster mode
 * (--workers 2, where the supervisor hands each connection to a worker and
 * WebSockets move to their object's owner). Limits are per process: each
 * worker enforces them on the connections it holds, handed-over ones too.
 */
import { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { WebSocket } from "ws";
import { type FaultCluster, namesOwnedBy, startFaultCluster } from "./cluster-fault-helpers.ts";

const MAX_CONNECTIONS = 3;
const LIMITS = [
  ["--max-connections", String(MAX_CONNECTIONS)],
  ["--max-header-bytes", "1024"],
  ["--headers-timeout-ms", "1000"],
  ["--max-request-body-bytes", "1000"],
  ["--max-buffered-bytes", String(1024 * 1024)],
  ["--ping-interval-ms", "500"],
  ["--close-timeout-ms", "3000"],
].flat();

/** A raw TCP client: writes bytes, reads what comes back, answers WebSocket pings if asked to (never a Close). */
async function raw(port: number, options: { pong?: boolean } = {}) {
  const socket = new Socket();
  onTestFinished(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => socket.connect(port, "127.0.0.1", resolve).once("error", reject));
  let received = Buffer.alloc(0);
  let upgraded = -1;
  const listeners: Array<() => void> = [];
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (upgraded === -1) {
      const end = received.indexOf("\r\n\r\n");
      if (end !== -1 && received.subarray(0, 12).toString() === "HTTP/1.1 101") upgraded = end + 4;
    }
    if (upgraded !== -1 && options.pong === true) answerPings();
    for (const l of listeners.splice(0)) l();
  });
  let parsed = 0;
  /** Server frames are unmasked: answers each ping with a masked pong of the same payload. */
  const answerPings = () => {
    let at = Math.max(parsed, upgraded);
    while (received.length - at >= 2) {
      const opcode = received[at]! & 0x0f;
      let length = received[at + 1]! & 0x7f;
      let head = 2;
      if (length === 126) {
        if (received.length - at < 4) return;
        length = received.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) {
        if (received.length - at < 10) return;
        length = Number(received.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (received.length - at < head + length) return;
      if (opcode === 0x9) {
        const payload = received.subarray(at + head, at + head + length);
        socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
      }
      at += head + length;
      parsed = at;
    }
  };
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  return {
    socket,
    closed,
    write: (text: string) => socket.write(text),
    text: () => received.toString("latin1"),
    async untilClosed(): Promise<string> {
      await closed;
      return received.toString("latin1");
    },
    async until(pattern: RegExp): Promise<string> {
      while (!pattern.test(received.toString("latin1"))) await new Promise<void>((resolve) => listeners.push(resolve));
      return received.toString("latin1");
    },
  };
}

const END_OF_CHUNKED = /\r\n0\r\n\r\n$/;
const upgradeHead = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

async function until(poll: () => Promise<boolean> | boolean, timeout = 30_000): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await poll())) throw new Error("not yet");
    },
    { timeout, interval: 100 },
  );
}

describe.each([1, 2])("server limits with --workers %i", (workers) => {
  let c: FaultCluster;
  let port: number;
  beforeAll(async () => {
    c = await startFaultCluster(workers, LIMITS);
    port = Number(new URL(c.url).port);
  }, 120_000);
  afterAll(async () => {
    await c.stop();
  });

  it("maxHeaderBytes: a head over it gets 431, in every worker", async () => {
    for (let i = 0; i < workers; i++) {
      const client = await raw(port);
      client.write(`GET /pid HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2_048)}\r\n\r\n`);
      const answer = await client.untilClosed();
      expect(answer).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      expect(answer).toContain('"code":"ERR_HEADERS_TOO_LARGE"');
    }
  });

  it("headersTimeoutMs: a client trickling its head one byte at a time gets 408, in every worker", async () => {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        const client = await raw(port);
        client.write("GET /pid HTTP/1.1\r\nHost: x\r\n");
        const trickle = setInterval(() => client.write("X"), 200);
        onTestFinished(() => clearInterval(trickle));
        const answer = await client.untilClosed();
        clearInterval(trickle);
        expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
        expect(answer).toContain('"code":"ERR_REQUEST_TIMEOUT"');
      }),
    );
  }, 30_000);

  it("maxRequestBodyBytes: a declared body over it gets 413; a streamed one crossing it gets 413 at that point", async () => {
    for (let i = 0; i < workers; i++) {
      const declared = await raw(port);
      declared.write("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
      const refused = await declared.untilClosed();
      expect(refused).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
      expect(refused).toContain('"code":"ERR_REQUEST_BODY_TOO_LARGE"');
      const streamed = await raw(port);
      streamed.write("POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
      streamed.write(`258\r\n${"a".repeat(600)}\r\n`);
      streamed.write(`258\r\n${"a".repeat(600)}\r\n`);
      const cut = await streamed.untilClosed();
      expect(cut).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
      expect(cut).not.toContain("got ");
    }
    expect(c.server.stdout()).not.toContain("Uncaught error in the Worker's fetch()");
  });

  it("maxConnections (per process): beyond it a request gets 503; WebSockets handed to the owner count there", async () => {
    const [room] = namesOwnedBy(c.data, workers - 1, 1, "m");
    // Sockets held by the room's owner: each WebSocket ends up there, whichever worker accepted it.
    const sockets: WebSocket[] = [];
    onTestFinished(() => {
      for (const ws of sockets) ws.terminate();
    });
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const ws = new WebSocket(`${c.url.replace("http", "ws")}/ws/${room}?id=c${i}`);
      sockets.push(ws);
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    }
    // The owner is full: of the next `workers` connections (one per worker, in turn), the one it gets is refused.
    const answers = await Promise.all(
      Array.from({ length: workers }, async () => {
        const client = await raw(port);
        client.write("GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return client.untilClosed();
      }),
    );
    const refused = answers.filter((a) => /^HTTP\/1\.1 503 Service Unavailable\r\n/.test(a));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain('"code":"ERR_TOO_MANY_CONNECTIONS"');
    for (const ws of sockets) ws.close();
    await until(async () => (await c.rpc(room!, "participants")).body.value?.length === 0);
  });

  it("maxBufferedBytes: a reader that stops reading is shed with 1013; its object gets webSocketError", async () => {
    const [room] = namesOwnedBy(c.data, 0, 1, "b");
    const ws = new WebSocket(`${c.url.replace("http", "ws")}/ws/${room}?id=slow`);
    onTestFinished(() => ws.terminate());
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    (ws as unknown as { _socket: Socket })._socket.pause();
    ws.send(`flood:${16 * 1024 * 1024}`);
    await until(async () => ((await c.rpc(room!, "errors")).body.value as string[]).includes("ERR_WEBSOCKET_BACKPRESSURE"));
    (ws as unknown as { _socket: Socket })._socket.resume();
    expect(await closed).toBe(1013);
  }, 60_000);

  it("pingIntervalMs: a peer that stops answering pings is dropped and its object sees the close", async () => {
    const [room] = namesOwnedBy(c.data, workers - 1, 1, "p");
    const silent = await raw(port);
    silent.write(upgradeHead(`/ws/${room}?id=silent`));
    await silent.until(/^HTTP\/1\.1 101 /);
    await until(async () => (await c.rpc(room!, "participants")).body.value?.includes("silent") === true);
    await silent.closed;
    await until(async () => (await c.rpc(room!, "participants")).body.value?.length === 0);
  }, 30_000);

  it("closeTimeoutMs: a peer that never answers the server's Close (but answers pings) is dropped", async () => {
    const [room] = namesOwnedBy(c.data, workers - 1, 1, "k");
    const mute = await raw(port, { pong: true });
    mute.write(upgradeHead(`/ws/${room}?id=mute`));
    await mute.until(/^HTTP\/1\.1 101 /);
    await until(async () => (await c.rpc(room!, "participants")).body.value?.includes("mute") === true);
    expect((await c.rpc(room!, "closeAll")).status).toBe(200);
    await mute.closed;
    // The Close frame (status 1000) reached the client before the server gave up on it.
    expect(mute.text()).toContain("\u0088\u0005\u0003\u00e8bye");
  }, 30_000);
});
