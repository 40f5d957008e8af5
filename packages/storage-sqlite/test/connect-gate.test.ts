import { once } from "node:events";
import { createServer, type Socket as NetSocket } from "node:net";
import { afterEach, expect, onTestFinished, test, vi } from "vitest";
import { DurableObject, type Logger } from "@torpor/core";
import { connect, type Socket } from "@torpor/core/cloudflare/sockets";
import { injectFsyncFault } from "../src/wal-sync.ts";
import { holding, releaseHeld, startOnHeldDisk } from "./held-disk.ts";

/**
 * `connect()` from Durable Object code is behind the output gate, as on
 * workerd (sockets.c++ defers the connect until the output locks clear; its
 * stream writes wait for them too): the TCP connection starts only once the
 * object's writes so far are durable, a write made after a storage write
 * leaves only once that write is durable, and from an instance that was
 * reset nothing leaves and the socket is dropped. A's fsyncs are held by a
 * hook in the provider's fsync path until the test lets them run.
 */

class A extends DurableObject {
  socket: Socket | null = null;
  async connectAfterWrite(port: number): Promise<string> {
    this.ctx.storage.put("x", "connect");
    this.socket = connect({ hostname: "127.0.0.1", port });
    await this.socket.writable.getWriter().write(new TextEncoder().encode("a"));
    return "written";
  }
  async open(port: number): Promise<string> {
    this.socket = connect({ hostname: "127.0.0.1", port });
    await this.socket.opened;
    return "open";
  }
  async writeAfterWrite(): Promise<string> {
    this.ctx.storage.put("x", "write");
    const writer = this.socket!.writable.getWriter();
    await writer.write(new TextEncoder().encode("b"));
    writer.releaseLock();
    return "written";
  }
  async write(): Promise<string> {
    await this.ctx.storage.put("x", "doomed");
    return "written";
  }
}

/** Deadline for events of real sockets and fsyncs on a loaded machine (polled, so a fast run does not wait). */
const WAIT = { timeout: 30_000, interval: 10 };

afterEach(() => {
  injectFsyncFault(null);
});
const errors: string[] = [];
const quiet: Logger = { debug() {}, info() {}, warn() {}, error: (message) => void errors.push(message) };

/** A TCP server recording, per connection, what arrived and whether it ended. */
async function recordingServer() {
  const connections: Array<{ data: string; closed: boolean }> = [];
  const sockets = new Set<NetSocket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const record = { data: "", closed: false };
    connections.push(record);
    socket.on("data", (chunk) => (record.data += String(chunk)));
    socket.on("error", () => {});
    socket.on("close", () => (record.closed = true));
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as { port: number }).port, connections };
}

async function start() {
  const { runtime, aWal } = startOnHeldDisk({ A }, "torpor-connect-gate-", quiet);
  return { a: runtime.namespace<A>("A").getByName("a"), aWal };
}

/** Holds every fsync of A's WAL until `release()`. */
function holdFsyncsOf(wal: string) {
  let held = 0;
  injectFsyncFault((path) => {
    if (!path.endsWith(wal)) return Promise.resolve();
    held++;
    return new Promise<void>((resolve) => holding.push(resolve));
  });
  return {
    get held() {
      return held;
    },
    release() {
      for (const resolve of holding.splice(0)) resolve();
    },
  };
}

/** A connection made from outside any object after A's: once it is accepted, A's would have been too had it started. */
async function probe(port: number): Promise<void> {
  const socket = connect({ hostname: "127.0.0.1", port });
  await socket.opened;
  await socket.close();
}

test("connect() after a write starts the connection only once the write is durable", async () => {
  const { a, aWal } = await start();
  const server = await recordingServer();
  const fsyncs = holdFsyncsOf(aWal);
  const call = a.connectAfterWrite(server.port);
  await vi.waitFor(() => expect(fsyncs.held).toBe(1), WAIT);
  await probe(server.port);
  await vi.waitFor(() => expect(server.connections.length).toBe(1), WAIT);
  // Only the probe: A's connection has not started.
  expect(server.connections.map((c) => c.data)).toEqual([""]);
  fsyncs.release();
  expect(await call).toBe("written");
  await vi.waitFor(() => expect(server.connections.map((c) => c.data)).toEqual(["", "a"]), WAIT);
});

test("a write on a connect() socket after a storage write leaves only once that write is durable", async () => {
  const { a, aWal } = await start();
  const server = await recordingServer();
  expect(await a.open(server.port)).toBe("open");
  const fsyncs = holdFsyncsOf(aWal);
  const call = a.writeAfterWrite();
  await vi.waitFor(() => expect(fsyncs.held).toBe(1), WAIT);
  // A round trip on another connection to the same server: had "b" left, it would have arrived by now.
  await probe(server.port);
  await vi.waitFor(() => expect(server.connections.length).toBe(2), WAIT);
  expect(server.connections[0]!.data).toBe("");
  fsyncs.release();
  expect(await call).toBe("written");
  await vi.waitFor(() => expect(server.connections[0]!.data).toBe("b"), WAIT);
});

test("a reset drops the connect() sockets of its instance", async () => {
  const { a } = await start();
  const server = await recordingServer();
  expect(await a.open(server.port)).toBe("open");
  await vi.waitFor(() => expect(server.connections.length).toBe(1), WAIT);
  injectFsyncFault(() => Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })));
  await expect(a.write()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  await vi.waitFor(() => expect(server.connections[0]!.closed).toBe(true), WAIT);
});
