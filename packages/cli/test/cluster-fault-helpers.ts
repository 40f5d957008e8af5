/**
 * A cluster for the fault tests: `torpor start --workers N` on a project whose
 * objects can hold a call open until told to let go (`wait`/`release`),
 * stream bodies (SSE, downloads and uploads that count what went through),
 * record WebSocket participants in storage, and whose Worker can misbehave
 * (`/evil` sends garbage to the supervisor, `/hold` holds a request in the
 * Worker itself until a file exists). `extra` is code added to the module (a deploy that crashes,
 * a start that fails).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexFromName, slotOf } from "@torpor/core/cluster";
import { afterEach } from "vitest";
import { startTorpor, type Server } from "./helpers.ts";
import { childrenOf } from "./process-tree.ts";

/** The Worker module. */
export function faultWorkerSource(version: string, extra = ""): string {
  return `
import { DurableObject } from "cloudflare:workers";
import { existsSync, writeFileSync } from "node:fs";
const VERSION = ${JSON.stringify(version)};
${extra}
const waiters = new Map();
/** Bytes produced and received per object, kept per process (an instance may hibernate meanwhile). */
const produced = new Map();
const received = new Map();
/** Resolves once the file exists (a test's signal that reaches any process). */
async function untilFile(path) {
  while (!existsSync(path)) await scheduler.wait(25);
}

export class Box extends DurableObject {
  async wait(tag) {
    this.waiting = (this.waiting ?? 0) + 1;
    try {
      await new Promise((resolve) => waiters.set(tag, resolve));
      return { tag, pid: process.pid, version: VERSION };
    } finally {
      this.waiting--;
    }
  }
  async holdFile(path) {
    this.waiting = (this.waiting ?? 0) + 1;
    try {
      await untilFile(path);
      return { path, pid: process.pid };
    } finally {
      this.waiting--;
    }
  }
  /** Blocks this process's event loop (a long synchronous handler) until the file "release" exists; writes "started" first. */
  spinUntil({ started, release }) {
    writeFileSync(started, String(process.pid));
    while (!existsSync(release));
    return { pid: process.pid };
  }
  release(tag) {
    const resolve = waiters.get(tag);
    waiters.delete(tag);
    resolve?.();
    return resolve !== undefined;
  }
  busy() {
    return this.waiting ?? 0;
  }
  /** The WebSockets this instance holds now (a call after a move must see every moved one). */
  sockets() {
    return { count: this.ctx.getWebSockets().length, pid: process.pid, version: VERSION };
  }
  echo(tag) {
    return { tag, pid: process.pid, version: VERSION };
  }
  async participants() {
    return (await this.ctx.storage.get("participants")) ?? [];
  }
  produced() {
    return produced.get(this.ctx.id.toString()) ?? 0;
  }
  received() {
    return received.get(this.ctx.id.toString()) ?? 0;
  }
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/ws/")) {
      const [client, server] = Object.values(new WebSocketPair());
      const id = url.searchParams.get("id");
      this.ctx.acceptWebSocket(server);
      server.serializeAttachment({ id });
      await this.ctx.storage.put("participants", [...((await this.ctx.storage.get("participants")) ?? []), id]);
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname.startsWith("/sse/")) {
      let n = 0;
      const body = new ReadableStream({
        async pull(controller) {
          if (n > 0) await scheduler.wait(100);
          controller.enqueue(new TextEncoder().encode("data: " + n++ + "\\n\\n"));
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    }
    if (url.pathname.startsWith("/download/")) {
      const total = Number(url.searchParams.get("bytes"));
      const chunk = new Uint8Array(65536).fill(120);
      const id = this.ctx.id.toString();
      // Held before answering, when asked: "started" is written once the call runs here, and it answers once "release" exists.
      const started = url.searchParams.get("started");
      if (started !== null) writeFileSync(started, String(process.pid));
      const release = url.searchParams.get("release");
      if (release !== null) await untilFile(release);
      // Or until this worker lost its supervisor (it disconnects itself): the worker's own listener, registered at its
      // start, runs first and begins its stop, so this call answers while its worker stops.
      if (url.searchParams.has("disconnect")) {
        await new Promise((resolve) => {
          process.once("disconnect", resolve);
          process.disconnect();
        });
      }
      produced.set(id, 0);
      const body = new ReadableStream({
        pull(controller) {
          if (produced.get(id) >= total) return controller.close();
          produced.set(id, produced.get(id) + chunk.length);
          controller.enqueue(chunk);
        },
      }, { highWaterMark: 0 });
      return new Response(body);
    }
    if (url.pathname.startsWith("/upload/")) {
      const id = this.ctx.id.toString();
      received.set(id, 0);
      const reader = request.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        received.set(id, received.get(id) + value.byteLength);
      }
      return Response.json({ received: received.get(id), pid: process.pid });
    }
    return new Response("no such route", { status: 404 });
  }
  async webSocketMessage(ws, message) {
    const text = String(message);
    if (!text.startsWith("flood:")) return ws.send(text);
    const chunk = "x".repeat(65536);
    for (let sent = 0; sent < Number(text.slice(6)); sent += chunk.length) ws.send(chunk);
  }
  closeAll() {
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, "bye");
    return this.ctx.getWebSockets().length;
  }
  async errors() {
    return (await this.ctx.storage.get("errors")) ?? [];
  }
  async webSocketError(ws, error) {
    await this.ctx.storage.put("errors", [...((await this.ctx.storage.get("errors")) ?? []), error.code ?? error.message]);
  }
  async webSocketClose(ws) {
    const { id } = ws.deserializeAttachment();
    const list = (await this.ctx.storage.get("participants")) ?? [];
    await this.ctx.storage.put("participants", list.filter((p) => p !== id));
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, kind, name, method] = url.pathname.split("/");
    if (kind === "pid") return Response.json({ pid: process.pid, version: VERSION });
    if (kind === "body") return new Response("got " + (await request.arrayBuffer()).byteLength);
    if (kind === "hold") {
      await untilFile(url.searchParams.get("file"));
      return Response.json({ held: true, pid: process.pid });
    }
    if (kind === "evil") {
      // Worker code can reach the IPC channel: none of this may hurt the supervisor.
      process.send({ t: "call", rid: 1, to: 99, key: { namespace: "BOX", id: "nope" }, op: "call", method: "x", args: [] });
      process.send({ t: "reply", rid: 12345, to: 99, ok: true, value: 1 });
      process.send("garbage");
      process.send({ t: "released", slots: [1, 2, 3], sockets: 0, closed: 0 });
      return Response.json({ sent: true, pid: process.pid });
    }
    const stub = env.BOX.getByName(decodeURIComponent(name));
    if (kind === "ws") {
      const response = await stub.fetch(request);
      // The Worker may hold the 101 (after the object accepted) until a file exists.
      const hold = url.searchParams.get("hold");
      if (hold !== null) await untilFile(hold);
      return new Response(null, { status: 101, webSocket: response.webSocket });
    }
    if (kind === "sse" || kind === "download" || kind === "upload") return stub.fetch(request);
    const arg = url.searchParams.get("arg");
    try {
      return Response.json({ value: await stub[method](arg === null ? undefined : JSON.parse(arg)), via: process.pid });
    } catch (error) {
      return Response.json({ error: { class: error.constructor.name, message: error.message, code: error.code }, via: process.pid }, { status: 500 });
    }
  },
};
`;
}

const WRANGLER = JSON.stringify({
  main: "worker.js",
  compatibility_date: "2025-06-01",
  durable_objects: { bindings: [{ name: "BOX", class_name: "Box" }] },
  migrations: [{ tag: "v1", new_sqlite_classes: ["Box"] }],
});

/** A running fault-test cluster. */
export interface FaultCluster {
  dir: string;
  data: string;
  server: Server;
  url: string;
  /** GET on a fresh connection (the supervisor alternates workers per connection); never rejects on HTTP errors. */
  get(path: string, deadlineMs?: number): Promise<{ status: number; body: any }>;
  /** The same, also telling when the connection is up (so the next one is the supervisor's next). */
  open(path: string, deadlineMs?: number): { connected: Promise<void>; reply: Promise<{ status: number; body: any }> };
  rpc(name: string, method: string, arg?: unknown, deadlineMs?: number): Promise<{ status: number; body: any }>;
  setCode(version: string, extra?: string): void;
  stop(): Promise<number | null>;
}

/** A fresh project directory with the fault Worker (the caller removes it). */
export function faultProject(extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-faults-"));
  writeFileSync(join(dir, "wrangler.json"), WRANGLER);
  writeFileSync(join(dir, "worker.js"), faultWorkerSource("v1", extra));
  return dir;
}

export async function startFaultCluster(workers: number, args: string[] = [], extra = ""): Promise<FaultCluster> {
  const dir = faultProject(extra);
  const data = join(dir, "data");
  let server: Server;
  try {
    server = await startTorpor(["start", "--workers", String(workers), "--port", "0", "--persist-to", data, ...args], dir, 120_000);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = server.url;
  const open = (path: string, deadlineMs = 60_000) => {
    let connected = () => {};
    const up = new Promise<void>((resolve) => (connected = resolve));
    const reply = new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(`${url}${path}`, { agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode!, body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text });
        });
        res.on("error", reject);
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer to ${path} within ${deadlineMs} ms`)), deadlineMs);
      req.on("socket", (socket) => socket.once("connect", connected));
      req.on("error", (error) => {
        clearTimeout(timer);
        connected();
        reject(error);
      });
      req.end();
    });
    return { connected: up, reply };
  };
  const get = (path: string, deadlineMs?: number) => open(path, deadlineMs).reply;
  return {
    dir,
    data,
    server,
    url,
    get,
    open,
    rpc: (name, method, arg, deadlineMs) =>
      get(`/rpc/${encodeURIComponent(name)}/${method}${arg === undefined ? "" : `?arg=${encodeURIComponent(JSON.stringify(arg))}`}`, deadlineMs),
    setCode: (version, more = "") => writeFileSync(join(dir, "worker.js"), faultWorkerSource(version, more)),
    async stop() {
      const code = server.child.exitCode !== null ? server.child.exitCode : await server.stop();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * For a test file's top level: clusters started with `start` are stopped after each test, once the connections
 * `connectionTo` opened are destroyed and what `afterTest` was given has run (in that order).
 */
export function faultClustersPerTest() {
  const clusters: FaultCluster[] = [];
  const agents: Agent[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.destroy();
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const c of clusters.splice(0)) await c.stop();
  });
  return {
    async start(workers: number, args: string[] = [], extra = ""): Promise<FaultCluster> {
      const c = await startFaultCluster(workers, args, extra);
      clusters.push(c);
      return c;
    },
    connectionTo: (c: FaultCluster, pid: number) => connectionTo(c, pid, agents),
    /** Runs `cleanup` after the test, before its clusters stop. */
    afterTest(cleanup: () => void): void {
      cleanups.push(cleanup);
    },
  };
}

/**
 * The worker processes among the supervisor's children (their environment names an index): the supervisor may
 * have other children, such as the esbuild service tsx starts to compile sources it has not cached yet.
 */
export function workersOf(supervisor: number): number[] {
  return childrenOf(supervisor).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .some((v) => v.startsWith("TORPOR_CLUSTER_WORKER="));
    } catch {
      return false;
    }
  });
}

/** The worker process serving `index` now (a child of the supervisor whose environment names the index). */
export function workerPid(supervisor: number, index: number): number {
  for (const pid of childrenOf(supervisor)) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (env.includes(`TORPOR_CLUSTER_WORKER=${index}`)) return pid;
    } catch {
      // Gone while listing.
    }
  }
  throw new Error(`no worker ${index} under ${supervisor}`);
}

/** The worker index owning the object `name` (from the slot table the supervisor wrote). */
export function ownerIndex(data: string, name: string): number {
  // One process (--workers 1) has no table: it owns everything.
  if (!existsSync(join(data, "cluster", "slots.json"))) return 0;
  const table = JSON.parse(readFileSync(join(data, "cluster", "slots.json"), "utf8")) as { slots: number[] };
  return table.slots[slotOf(hexFromName("BOX", name))]!;
}

/** Names of objects owned by worker `index`, each in a slot of its own. */
export function namesOwnedBy(data: string, index: number, count: number, prefix = "n"): string[] {
  const out: string[] = [];
  const slots = new Set<number>();
  for (let i = 0; out.length < count; i++) {
    const name = `${prefix}${i}`;
    const slot = slotOf(hexFromName("BOX", name));
    if (ownerIndex(data, name) === index && !slots.has(slot)) {
      slots.add(slot);
      out.push(name);
    }
  }
  return out;
}

/** True while a process with this pid runs (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** A keep-alive connection served by worker `pid` (the supervisor hands each new connection to the next worker). */
export async function connectionTo(
  c: FaultCluster,
  pid: number,
  /** Where the connection's agent goes, for the test to destroy. */
  agents: Agent[],
): Promise<(path: string, deadlineMs?: number) => Promise<{ status: number; body: any }>> {
  for (let i = 0; i < 8; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const get = (path: string, deadlineMs = 30_000) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = request(`${c.url}${path}`, { agent }, (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode!, body: text.startsWith("{") ? JSON.parse(text) : text });
          });
        });
        const timer = setTimeout(() => req.destroy(new Error(`no answer to ${path} within ${deadlineMs} ms`)), deadlineMs);
        req.on("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
        req.end();
      });
    if ((await get("/pid")).body.pid === pid) return get;
    agent.destroy();
  }
  throw new Error(`no connection reached worker ${pid}`);
}

/** GET `url` on `agent`'s connection, counting the body's bytes; never rejects (an aborted body is an outcome). */
export function download(url: string, agent: Agent, deadlineMs: number): Promise<{ status: number; bytes: number; error: string | null }> {
  return new Promise((resolve) => {
    let bytes = 0;
    let status = 0;
    const req = request(url, { agent }, (res) => {
      status = res.statusCode!;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      res.on("end", () => resolve({ status, bytes, error: null }));
      res.on("aborted", () => resolve({ status, bytes, error: "aborted" }));
      res.on("error", (error) => resolve({ status, bytes, error: String(error) }));
    });
    req.setTimeout(deadlineMs, () => req.destroy(new Error(`no whole answer within ${deadlineMs} ms`)));
    req.on("error", (error) => resolve({ status, bytes, error: String(error) }));
    req.end();
  });
}
