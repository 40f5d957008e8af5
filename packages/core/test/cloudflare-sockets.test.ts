import { once } from "node:events";
import { createServer, type Socket as NetSocket } from "node:net";
import { expect, onTestFinished, test } from "vitest";
import { connect } from "../src/cloudflare/sockets.ts";

async function echoServer(): Promise<number> {
  const sockets = new Set<NetSocket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("end", () => socket.end());
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

test("connect(): web streams over TCP, opened with the addresses, closed after close()", async () => {
  const port = await echoServer();
  const socket = connect(`127.0.0.1:${port}`);
  const info = await socket.opened;
  expect(info.remoteAddress).toBe(`127.0.0.1:${port}`);
  expect(info.localAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  const writer = socket.writable.getWriter();
  await writer.write(new TextEncoder().encode("ping"));
  const reader = socket.readable.getReader();
  let received = "";
  while (received.length < 4) {
    const { value, done } = await reader.read();
    if (done) break;
    received += new TextDecoder().decode(value);
  }
  expect(received).toBe("ping");
  reader.releaseLock();
  await socket.close();
  await expect(socket.closed).resolves.toBeUndefined();
  expect(() => socket.startTls()).toThrow(expect.objectContaining({ code: "ERR_NOT_SUPPORTED" }));
});

test("a refused connection rejects opened and closed; a bad address throws at once", async () => {
  const port = await echoServer();
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const free = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  expect(port).not.toBe(free);
  const socket = connect({ hostname: "127.0.0.1", port: free });
  await expect(socket.opened).rejects.toMatchObject({ code: "ECONNREFUSED" });
  await expect(socket.closed).rejects.toMatchObject({ code: "ECONNREFUSED" });
  expect(() => connect("no-port")).toThrow(new TypeError('Invalid socket address "no-port": expected "host:port".'));
});
