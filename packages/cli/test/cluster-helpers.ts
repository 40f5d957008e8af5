/** A cluster under test: a project on disk, `torpor start --workers N` as a real process, and ways to reach it. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vi } from "vitest";
import { WebSocket } from "ws";
import { startTorpor, type Server } from "./helpers.ts";

/** The Worker every cluster test runs; VERSION is rewritten to test reloads. */
export function workerSource(version: string): string {
  return `
import { DurableObject } from "cloudflare:workers";
const VERSION = ${JSON.stringify(version)};

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Counted in storage: a second construction anywhere would show here.
    ctx.blockConcurrencyWhile(async () => {
      await ctx.storage.put("constructions", ((await ctx.storage.get("constructions")) ?? 0) + 1);
    });
  }
  async hello() {
    return { pid: process.pid, constructions: await this.ctx.storage.get("constructions") };
  }
  async write(id) {
    await this.ctx.storage.put("w:" + id, 1);
    return process.pid;
  }
  async writes() {
    return [...(await this.ctx.storage.list({ prefix: "w:" })).keys()].map((k) => k.slice(2));
  }
  async fail() {
    throw new RangeError("no such thing " + this.label);
  }
  get label() {
    return "counter " + VERSION;
  }
  async arm(at) {
    await this.ctx.storage.setAlarm(at);
  }
  async alarm() {
    const fired = (await this.ctx.storage.get("fired")) ?? [];
    fired.push({ pid: process.pid, version: VERSION, at: Date.now() });
    await this.ctx.storage.put("fired", fired);
  }
  async fired() {
    return (await this.ctx.storage.get("fired")) ?? [];
  }
  async fetch(request) {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, ["client"]);
    server.serializeAttachment({ since: VERSION, via: request.headers.get("x-via") });
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    const { since, via } = ws.deserializeAttachment();
    ws.send([message, VERSION, process.pid, since, via, this.ctx.getTags(ws).join(",")].join(" "));
  }
}

export default {
  async fetch(request, env) {
    const [, kind, name, method] = new URL(request.url).pathname.split("/");
    const stub = env.COUNTER.getByName(name);
    if (kind === "ws") {
      // A new request (the object learns which worker accepted the connection) and a re-wrapped
      // response, as Workers often do: the socket still goes to the owner.
      const headers = new Headers(request.headers);
      headers.set("x-via", String(process.pid));
      const response = await stub.fetch(new Request(request.url, { headers }));
      return new Response(null, { status: 101, webSocket: response.webSocket });
    }
    const arg = new URL(request.url).searchParams.get("arg");
    try {
      const value = method === "label" ? await stub.label : await stub[method](arg === null ? undefined : JSON.parse(arg));
      return Response.json({ value, via: process.pid });
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
  durable_objects: { bindings: [{ name: "COUNTER", class_name: "Counter" }] },
  migrations: [{ tag: "v1", new_sqlite_classes: ["Counter"] }],
});

export interface Cluster {
  dir: string;
  server: Server;
  url: string;
  /** GET a path on a fresh connection (so the supervisor's round robin spreads requests over the workers). */
  get(path: string): Promise<{ status: number; body: any }>;
  /** `/rpc/<name>/<method>` */
  rpc(name: string, method: string, arg?: unknown): Promise<{ status: number; body: any }>;
  setVersion(version: string): void;
  /** SIGHUP, then the outcome the supervisor writes. */
  reload(): Promise<{ ok: boolean; at: number; error?: string }>;
  stop(): Promise<number | null>;
}

/** Starts `torpor start --workers N`; `startTimeoutMs` bounds the wait for its listening line. */
export async function startCluster(workers: number, extraArgs: string[] = [], startTimeoutMs = 60_000, env: Record<string, string> = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "torpor-cluster-"));
  writeFileSync(join(dir, "wrangler.json"), WRANGLER);
  writeFileSync(join(dir, "worker.js"), workerSource("v1"));
  let server: Server;
  try {
    server = await startTorpor(
      ["start", "--workers", String(workers), "--port", "0", "--persist-to", join(dir, "data"), ...extraArgs],
      dir,
      startTimeoutMs,
      env,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = server.url;
  const getPath = (path: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      get(`${url}${path}`, { agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text }));
      }).on("error", reject);
    });
  let reloads = 0;
  return {
    dir,
    server,
    url,
    get: getPath,
    rpc: (name, method, arg) =>
      getPath(`/rpc/${encodeURIComponent(name)}/${method}${arg === undefined ? "" : `?arg=${encodeURIComponent(JSON.stringify(arg))}`}`),
    setVersion: (version) => writeFileSync(join(dir, "worker.js"), workerSource(version)),
    async reload() {
      const seq = ++reloads;
      const outcome = logLine(server, (line) => line.message === "Reloaded" || line.message === "Reload failed; the running workers keep serving");
      server.child.kill("SIGHUP");
      await outcome;
      // The outcome is logged before the supervisor writes it to reload.json: wait for the file to name this reload.
      const file = join(dir, "data", "cluster", "reload.json");
      const status = await vi.waitFor(
        () => {
          const read = JSON.parse(readFileSync(file, "utf8")) as { seq: number; ok: boolean; at: number; error?: string };
          if (read.seq !== seq) throw new Error(`reload.json is for reload ${read.seq}, expected ${seq}`);
          return read;
        },
        { timeout: 10_000, interval: 20 },
      );
      return status;
    },
    async stop() {
      const code = await server.stop();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

type LogLine = { message: string; [field: string]: unknown };

/** Resolves with the first JSON log line from now on that matches. */
export function logLine(server: Server, match: (line: LogLine) => boolean): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: string) => {
      buffered += chunk;
      let at: number;
      while ((at = buffered.indexOf("\n")) !== -1) {
        const text = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        if (!text.startsWith("{")) continue;
        const line = JSON.parse(text) as LogLine;
        if (match(line)) {
          server.child.stdout!.off("data", onData);
          server.child.off("exit", onExit);
          resolve(line);
          return;
        }
      }
    };
    const onExit = () => reject(new Error(`torpor exited while waiting for a log line.\n${server.stdout()}${server.stderr()}`));
    server.child.stdout!.on("data", onData);
    server.child.once("exit", onExit);
  });
}

/** A WebSocket client that records every message and its close. */
export class Client {
  readonly ws: WebSocket;
  readonly messages: string[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;
  readonly done: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.done = new Promise((resolve) =>
      this.ws.once("close", (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
        for (const w of this.#waiters.splice(0)) w();
      }),
    );
    this.ws.on("error", () => {});
    this.ws.on("message", (data) => {
      this.messages.push(data.toString());
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Resolves with the n-th message (0-based) once it arrived. */
  async message(n: number): Promise<string> {
    while (this.messages.length <= n) {
      if (this.closed !== null) throw new Error(`closed (${this.closed.code}) before message ${n}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.messages[n]!;
  }
}

/** Wakes waiters whenever something progressed, so tests await a condition without polling. */
export class Progress {
  #waiters: Array<() => void> = [];

  notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}
