import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterEach, beforeAll, describe, expect, onTestFinished, test, vi } from "vitest";
import { WebSocket as WsClient, WebSocketServer } from "ws";
import { DurableObject, Response, Runtime, WebSocket, WebSocketPair, type DurableObjectNamespace, type Logger } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";
import { injectFsyncFault } from "../src/wal-sync.ts";

/**
 * Cloudflare's output gate holds outgoing subrequests too: object A writes x
 * and, in the same event, calls B; if B's call left before x was durable, B
 * could commit and acknowledge its own client, and a power loss then keep
 * B's write and lose A's. So a stub call (RPC, property read, `fetch`) and
 * the global `fetch()` from object code leave only once the calling object's
 * writes so far are durable. A's fsyncs are held by a hook in the provider's
 * fsync path until the test lets them run.
 */

/** What reached B (or the network), in order. */
const reached: string[] = [];
let hold: { promise: Promise<void>; release: () => void } = released();
function released() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

type Env = { A: DurableObjectNamespace<A>; B: DurableObjectNamespace<B> };

class A extends DurableObject<Env> {
  async viaRpc(): Promise<string> {
    this.ctx.storage.put("x", "rpc");
    return this.env.B.getByName("b").note("rpc");
  }
  async viaStubFetch(): Promise<string> {
    this.ctx.storage.put("x", "stub.fetch");
    return (await this.env.B.getByName("b").fetch("http://b/?from=stub.fetch")).text();
  }
  async viaProperty(): Promise<string> {
    this.ctx.storage.put("x", "property");
    return this.env.B.getByName("b").label;
  }
  async viaGlobalFetch(): Promise<string> {
    this.ctx.storage.put("x", "fetch");
    return (await fetch("http://example.invalid/?from=fetch")).text();
  }
  async inTransaction(): Promise<string> {
    // The closure's writes cannot commit before it ends: the call must not wait for them (no deadlock).
    return this.ctx.storage.transaction(async (txn) => {
      await txn.put("y", 1);
      return this.env.B.getByName("b").note("transaction");
    });
  }
  async viaClientSocket(): Promise<string> {
    const ws = await this.socketToB();
    this.ctx.storage.put("x", "socket");
    ws.send("socket");
    return "sent";
  }
  async socketAfterReset(): Promise<string> {
    const ws = await this.socketToB();
    await this.ctx.storage.put("x", "doomed");
    await hold.promise;
    // The batch failed and the object was reset meanwhile: this message must never reach B.
    ws.send("from a reset instance");
    // The reset already dropped the socket (B saw 1006, as on workerd): this close changes nothing.
    ws.close(1000, "bye");
    return "sent";
  }
  async outbound(url: string): Promise<string> {
    this.ctx.storage.put("x", "outbound");
    const ws = new WebSocket(url);
    ws.addEventListener("open", () => ws.send("outbound"));
    return "opened";
  }
  /** The client end of a WebSocket B accepted (no object owns it here): its sends wait for A's own output gate. */
  async socketToB(): Promise<WebSocket> {
    const response = await this.env.B.getByName("b").fetch("http://b/?from=upgrade", { headers: { Upgrade: "websocket" } });
    const ws = (response as Response).webSocket!;
    ws.accept();
    return ws;
  }
  async afterReset(): Promise<string> {
    await this.ctx.storage.put("x", "doomed");
    await hold.promise;
    // The batch failed and the object was reset meanwhile: this call must never reach B.
    return this.env.B.getByName("b").note("from a reset instance");
  }
}

class B extends DurableObject {
  get label(): string {
    reached.push("property");
    return "b";
  }
  note(from: string): string {
    reached.push(from);
    return `noted ${from}`;
  }
  override fetch(request: Request): Response {
    if (request.headers.get("Upgrade") === "websocket") {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server);
      return new Response(null, { status: 101, webSocket: client });
    }
    const from = new URL(request.url).searchParams.get("from")!;
    reached.push(from);
    return new Response(`fetched ${from}`);
  }
  override webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): void {
    reached.push(String(message));
  }
  override webSocketClose(_ws: WebSocket, code: number): void {
    reached.push(`close ${code}`);
  }
}

const platformFetch = globalThis.fetch;
beforeAll(() => {
  // The "network": records each request when it is really sent (installGlobals puts the output gate in front of it).
  globalThis.fetch = (async (input: RequestInfo | URL) => {
    reached.push(new URL(String(input instanceof Request ? input.url : input)).searchParams.get("from")!);
    return new Response("fetched");
  }) as typeof fetch;
  return () => {
    globalThis.fetch = platformFetch;
  };
});

const dirs: string[] = [];
/** Fsyncs held by the current test, to let go when it ends. */
const holding: Array<() => void> = [];
afterEach(() => {
  injectFsyncFault(null);
  hold.release();
  reached.length = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const errors: string[] = [];
const quiet: Logger = { debug() {}, info() {}, warn() {}, error: (message) => void errors.push(message) };

async function start() {
  const dir = mkdtempSync(join(tmpdir(), "torpor-subrequests-"));
  dirs.push(dir);
  const runtime = new Runtime({ objects: { A, B }, storage: sqliteStorage({ dir }), logger: quiet });
  onTestFinished(async () => {
    injectFsyncFault(null);
    // A failed assertion may leave fsyncs held: let them finish so the runtime can close.
    for (const release of holding.splice(0)) release();
    await runtime.close();
  });
  const a = runtime.namespace<A>("A").getByName("a");
  const aWal = `${runtime.namespace("A").idFromName("a").toString()}.sqlite-wal`;
  /** What reached B so far: a call from outside any object, queued behind every event already delivered to B. */
  const reachedB = async () => {
    await runtime.namespace<B>("B").getByName("b").note("probe");
    return reached.filter((mark) => mark !== "probe");
  };
  return { runtime, a, aWal, reachedB };
}

/** Holds every fsync of A's WAL until `release()`; B's run at once. */
function holdFsyncsOf(wal: string) {
  const waiting = holding;
  let held = 0;
  injectFsyncFault((path) => {
    if (!path.endsWith(wal)) return Promise.resolve();
    held++;
    return new Promise<void>((resolve) => waiting.push(resolve));
  });
  return {
    get held() {
      return held;
    },
    release() {
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

describe("subrequests wait for the caller's writes to be durable", () => {
  test.each([
    ["a stub RPC call", "viaRpc", "rpc", "noted rpc"],
    ["stub.fetch()", "viaStubFetch", "stub.fetch", "fetched stub.fetch"],
    ["a stub property read", "viaProperty", "property", "b"],
    ["the global fetch()", "viaGlobalFetch", "fetch", "fetched"],
  ] as const)("%s leaves only once the write before it is durable", async (_what, method, mark, result) => {
    const { a, aWal } = await start();
    const fsyncs = holdFsyncsOf(aWal);
    const call = (a[method] as () => Promise<string>)();
    // A's batch is committed and its fsync is held: nothing may have left yet.
    await vi.waitFor(() => expect(fsyncs.held).toBe(1));
    expect(reached).toEqual([]);
    fsyncs.release();
    expect(await call).toBe(result);
    expect(reached).toEqual([mark]);
  });

  test("inside a transaction() closure the call waits only for batches already committed (no deadlock)", async () => {
    const { a } = await start();
    expect(await a.inTransaction()).toBe("noted transaction");
    expect(reached).toEqual(["transaction"]);
  });

  test("code of an instance that was reset makes no subrequest: it gets the reset's error", async () => {
    const { a } = await start();
    hold = released();
    injectFsyncFault(() => Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })));
    const call = a.afterReset();
    const settled = call.then(
      () => "resolved",
      (error: { code?: string }) => error.code,
    );
    // The failed commit resets A while afterReset() awaits; its code then resumes and tries to call B.
    await vi.waitFor(() => expect(errors).toContain("Storage commit failed; resetting the object"));
    hold.release();
    expect(await settled).toBe("ERR_STORAGE_COMMIT_FAILED");
    expect(reached).toEqual([]);
  });
});

describe("WebSocket output of object code waits for its writes to be durable", () => {
  test("a message on the client end of a WebSocket another object returned leaves only once the write before it is durable", async () => {
    const { a, aWal, reachedB } = await start();
    const fsyncs = holdFsyncsOf(aWal);
    const call = a.viaClientSocket();
    await vi.waitFor(() => expect(fsyncs.held).toBe(1));
    expect(await reachedB()).toEqual([]);
    fsyncs.release();
    expect(await call).toBe("sent");
    await vi.waitFor(async () => expect(await reachedB()).toEqual(["socket"]));
  });

  test("code of an instance that was reset sends nothing on such a socket; the reset dropped it (1006)", async () => {
    const { a, reachedB } = await start();
    hold = released();
    injectFsyncFault(() => Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })));
    const settled = a.socketAfterReset().then(
      () => "resolved",
      (error: { code?: string }) => error.code,
    );
    await vi.waitFor(() => expect(errors).toContain("Storage commit failed; resetting the object"));
    hold.release();
    expect(await settled).toBe("ERR_STORAGE_COMMIT_FAILED");
    await vi.waitFor(async () => expect(await reachedB()).toEqual(["close 1006"]), { timeout: 30_000, interval: 20 });
  });

  test("an outbound new WebSocket(url) connects only once the write before it is durable", async () => {
    const { a, aWal } = await start();
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    onTestFinished(() => {
      for (const client of server.clients) client.terminate();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const connections: string[] = [];
    const messages: string[] = [];
    server.on("connection", (socket, request) => {
      connections.push(request.headers["x-probe"] === undefined ? "a" : "probe");
      socket.on("message", (data) => messages.push(String(data)));
    });
    const fsyncs = holdFsyncsOf(aWal);
    const call = a.outbound(url);
    await vi.waitFor(() => expect(fsyncs.held).toBe(1));
    // A connection opened after A's (from outside any object) completes its handshake; A's has not started.
    const probe = new WsClient(url, { headers: { "x-probe": "1" } });
    await new Promise((resolve, reject) => {
      probe.once("open", resolve);
      probe.once("error", reject);
    });
    probe.close();
    expect(connections).toEqual(["probe"]);
    fsyncs.release();
    expect(await call).toBe("opened");
    await vi.waitFor(() => expect(messages).toEqual(["outbound"]));
    expect(connections).toEqual(["probe", "a"]);
  });
});
