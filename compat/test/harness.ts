// Starts the probe Worker (worker/worker.js) on workerd (through miniflare)
// and on Torpor, and drives either one with the same scripted client over real
// WebSockets, returning what it observed as plain JSON per scenario.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

export const workerPath = fileURLToPath(new URL("../worker/worker.js", import.meta.url));

/** Where to reach a running runtime, what it logged, and how to stop it. */
export interface Target {
  name: "workerd" | "torpor";
  url: string;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * workerd via miniflare, at compatibility date 2026-04-07 (which turns on
 * `web_socket_auto_reply_to_close`: the runtime answers a client's Close
 * frame itself on accept() sockets).
 */
export async function startWorkerd(compatibilityDate = "2026-04-07", compatibilityFlags: string[] = []): Promise<Target> {
  return startMiniflare({
    scriptPath: workerPath,
    // SQLite-backed, as Cloudflare recommends for new classes (and as Torpor always is).
    durableObjects: { PROBE: { className: "Probe", useSQLite: true } },
    compatibilityDate,
    compatibilityFlags,
  });
}

/**
 * A Worker on workerd through miniflare, as an ES module Worker (its sibling
 * .js modules too: miniflare defaults .js imports to CommonJS), without
 * Request.cf data, with everything workerd logs or prints kept in `logs`.
 */
export async function startMiniflare(options: Record<string, unknown> & { scriptPath: string }): Promise<Target> {
  const { Miniflare, Log, LogLevel } = await import("miniflare");
  const logs: string[] = [];
  class RecordingLog extends Log {
    constructor() {
      super(LogLevel.DEBUG);
    }
    protected override log(message: string): void {
      logs.push(message);
    }
  }
  const mf = new Miniflare({
    modules: true,
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    cf: false, // no download of Request.cf data
    ...options,
    log: new RecordingLog(),
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      stdout.on("data", (chunk: Buffer) => logs.push(`stdout: ${chunk.toString().trimEnd()}`));
      stderr.on("data", (chunk: Buffer) => logs.push(`stderr: ${chunk.toString().trimEnd()}`));
    },
  });
  const url = await mf.ready;
  return { name: "workerd", url: String(url).replace(/\/$/, ""), logs, stop: () => mf.dispose() };
}

/** Torpor as `torpor dev -c <config> --port 0 --persist-to <fresh dir>` runs it, in this process; the directory goes on stop. */
export async function startTorporDevInProcess(config: string, dirPrefix: string): Promise<Target> {
  const { startWorker } = await import("@torpor/cli");
  const dataDir = mkdtempSync(join(tmpdir(), dirPrefix));
  // watch: false, as `--no-watch`: startWorker serves in this process; only the CLI's main runs a reloading supervisor.
  const worker = await startWorker({ command: "dev", config, port: 0, persistTo: dataDir, vars: {}, adminIp: "127.0.0.1", logLevel: "warn", watch: false });
  return {
    name: "torpor",
    url: worker.url.replace(/\/$/, ""),
    logs: [],
    async stop() {
      await worker.close(1001, "test done");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Torpor: the same module, its class constructed directly, its fetch as the Worker entry, SQLite storage. */
export async function startTorpor(compatibilityDate = "2026-04-07", compatibilityFlags: string[] = []): Promise<Target> {
  const { Runtime, installGlobals } = await import("@torpor/core");
  const { sqliteStorage } = await import("@torpor/storage-sqlite");
  installGlobals();
  const worker = await import(workerPath);
  const logs: string[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const error = fields?.error as Error | undefined;
    logs.push(`${level}: ${message}${error ? ` (${error.name}: ${error.message})` : ""}`);
  };
  const runtime = new Runtime({
    objects: { PROBE: worker.Probe },
    fetch: worker.default.fetch,
    // SQLite storage, as `torpor start` ships (in memory: nothing to clean up).
    storage: sqliteStorage({ dir: ":memory:" }),
    logger: { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") },
    // Objects here must not hibernate mid-scenario; workerd (local) keeps them too.
    hibernateAfterMs: 120_000,
    compatibilityDate,
    compatibilityFlags,
  });
  // As `torpor dev` (miniflare is wrangler dev's runtime): uncaught errors show in the 500's body.
  const { url } = await runtime.listen({ port: 0, errorDetails: true });
  return { name: "torpor", url: url.replace(/\/$/, ""), logs, stop: () => runtime.close() };
}

// ---- a scripted WebSocket client ---------------------------------------------

interface CloseSeen {
  code: number;
  reason: string;
}

class Client {
  readonly #ws: WebSocket;
  readonly #queue: string[] = [];
  #wake: (() => void) | null = null;
  closed: CloseSeen | null = null;
  readonly closedPromise: Promise<CloseSeen>;
  errors: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (data, isBinary) => {
      this.#queue.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString());
      this.#wake?.();
    });
    ws.on("error", (error) => this.errors.push(error.message));
    this.closedPromise = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        this.#wake?.();
        resolve(this.closed);
      });
    });
  }

  static open(base: string, room: string, tags?: string[], query = ""): Promise<Client> {
    const params = new URLSearchParams(query);
    if (tags) params.set("tags", tags.join(","));
    const url = `${base.replace(/^http/, "ws")}/room/${room}/connect${params.size ? `?${params}` : ""}`;
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new Client(ws)));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  send(data: string | Uint8Array): void {
    this.#ws.send(data);
  }

  /** The next message, or null if none comes in `ms` (or the socket closed first). */
  async next(ms = 2_000): Promise<string | null> {
    const deadline = Date.now() + ms;
    while (this.#queue.length === 0) {
      if (this.closed !== null || Date.now() >= deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#queue.shift()!;
  }

  async nextJson(ms = 2_000): Promise<unknown> {
    const text = await this.next(ms);
    if (text === null) return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  /**
   * The Close frame received within `ms` (or null): ws emits "close" only when
   * the TCP connection ends, so a peer that sends a Close frame and keeps the
   * connection open is seen by ending it here.
   */
  async closeFrame(ms: number): Promise<CloseSeen | null> {
    const deadline = Date.now() + ms;
    const internals = this.#ws as unknown as { _closeFrameReceived: boolean };
    while (!internals._closeFrameReceived && this.closed === null && Date.now() < deadline) await sleep(20);
    if (this.closed !== null) return this.closed;
    if (!internals._closeFrameReceived) return null;
    this.#ws.terminate();
    return this.closedPromise;
  }

  /** The close the client saw, or null if it did not close within `ms`. */
  async waitClose(ms = 2_000): Promise<CloseSeen | null> {
    return Promise.race([this.closedPromise, sleep(ms).then(() => null)]);
  }

  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }

  /** Drops the TCP connection without a Close frame. */
  drop(): void {
    this.#ws.terminate();
  }
}

// ---- scenarios -----------------------------------------------------------------

interface LogEntry {
  ev: string;
  [key: string]: unknown;
}
interface Log {
  gen: number;
  maxInflight: number;
  events: LogEntry[];
}

async function getJson(base: string, path: string): Promise<unknown> {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, text };
  }
}

async function getLog(base: string, room: string): Promise<Log> {
  const res = await fetch(`${base}/room/${room}/log`);
  return (await res.json()) as Log;
}

/** Polls the room's log until `done` holds (or `ms` passes), then waits `settleMs` more for stragglers. */
async function logWhen(base: string, room: string, done: (log: Log) => boolean, ms = 3_000, settleMs = 300): Promise<Log> {
  const deadline = Date.now() + ms;
  let log = await getLog(base, room);
  while (!done(log) && Date.now() < deadline) {
    await sleep(50);
    log = await getLog(base, room);
  }
  await sleep(settleMs);
  return getLog(base, room);
}

const has = (ev: string) => (log: Log) => log.events.some((e) => e.ev === ev);

export type Scenario = (base: string, room: string) => Promise<unknown>;

/** Each scenario gets its own room (object), so they cannot disturb each other. */
/** The client closes with 4000 on a socket accepted with `tags`; what it and the object saw. */
async function clientClosesWith(base: string, room: string, tags: string[]) {
  const c = await Client.open(base, room, tags);
  c.send("view");
  await c.next();
  c.close(4000, "client-bye");
  const afterClose = await c.next(1_000);
  const clientSaw = await c.waitClose();
  const log = await logWhen(base, room, has("close"));
  return { afterClose, clientSaw, log };
}

export const scenarios: Record<string, Scenario> = {
  /** acceptWebSocket tag validation and getTags, on in-process pairs. */
  async tags(base, room) {
    return getJson(base, `/room/${room}/tags`);
  },

  /** serializeAttachment / deserializeAttachment values and limits. */
  async attachments(base, room) {
    return getJson(base, `/room/${room}/attachments`);
  },

  /** close() argument validation; send/close before accept and after close. */
  async closeCodes(base, room) {
    return getJson(base, `/room/${room}/closecodes`);
  },

  /** getWebSockets order, tag merging, auto-response and event-timeout limits, misuse errors. */
  async hibernation(base, room) {
    return getJson(base, `/room/${room}/hibernation`);
  },

  /** What a handler sees of a live socket; text, binary and unknown messages. */
  async messages(base, room) {
    const c = await Client.open(base, room, ["b", "a"]);
    const view = await c.nextJson(0).then(() => null); // nothing is sent unprompted
    c.send("view");
    const seen = await c.nextJson();
    c.send(new Uint8Array([1, 2, 3]));
    const binary = await c.nextJson();
    c.send("hello there");
    const unknown = await c.nextJson();
    c.close(1000);
    await c.waitClose();
    return { unprompted: view, view: seen, binary, unknown };
  },

  /** (a) The client closes with 4000. */
  clientCloses: (base, room) => clientClosesWith(base, room, ["t"]),

  /** (a') The client closes with 4000; webSocketClose answers with close(1000) by hand (the pre-auto-reply pattern). */
  clientClosesHandlerReplies: (base, room) => clientClosesWith(base, room, ["reply-in-close"]),

  /** Control: a standard ws.accept() socket, the client closes with 4000 (is the auto-reply in effect at all?). */
  async standardClientCloses(base, room) {
    const c = await Client.open(base, room, undefined, "mode=standard");
    c.send("hi");
    const echo = await c.nextJson();
    c.close(4000, "client-bye");
    const afterClose = await c.next(1_000);
    const clientSaw = await c.waitClose();
    const log = await logWhen(base, room, has("standard-close"));
    return { echo, afterClose, clientSaw, log };
  },

  /** Control: a standard socket whose close listener answers with close(1000) by hand. */
  async standardClientClosesHandlerReplies(base, room) {
    const c = await Client.open(base, room, undefined, "mode=standard&reply=1");
    c.send("hi");
    await c.next();
    c.close(4000, "client-bye");
    const afterClose = await c.next(1_000);
    const clientSaw = await c.waitClose();
    const log = await logWhen(base, room, has("standard-close"));
    return { afterClose, clientSaw, log };
  },

  /**
   * The object closes with 2999 (workerd accepts 1016–2999; the ws client
   * refuses such a code and fails the connection with 1002, naming the code
   * it received: that is how the code on the wire is seen here).
   */
  async serverClosesUnlistedCode(base, room) {
    const c = await Client.open(base, room);
    c.send("server-close-code:2999");
    const clientSaw = await c.waitClose();
    return { clientSaw, clientErrors: c.errors };
  },

  /** (b) The object closes first with 4001: is webSocketClose called, and with what? */
  async serverCloses(base, room) {
    const c = await Client.open(base, room);
    c.send("server-close");
    const clientSaw = await c.waitClose();
    const log = await logWhen(base, room, has("close"), 1_500);
    return { clientSaw, log };
  },

  /** (c) The client drops the TCP connection without a Close frame. */
  async clientDrops(base, room) {
    const c = await Client.open(base, room);
    c.send("view");
    await c.next();
    c.drop();
    const log = await logWhen(base, room, (l) => has("close")(l) || has("error")(l), 3_000, 500);
    return { log };
  },

  /** webSocketMessage throws synchronously: is the socket closed, with what code; is webSocketError called? */
  async handlerThrows(base, room) {
    return throwing(base, room, "throw");
  },

  /** webSocketMessage returns a rejected promise. */
  async handlerRejects(base, room) {
    return throwing(base, room, "throw-async");
  },

  /** One socket: a handler awaiting a timer, then a quick message: do they overlap? */
  async concurrency(base, room) {
    const c = await Client.open(base, room);
    c.send("slow:1");
    c.send("fast:2");
    const replies = [await c.nextJson(), await c.nextJson()];
    c.close(1000);
    await c.waitClose();
    const log = await logWhen(base, room, has("close"));
    return { replies, log };
  },

  /** The client closes while a handler is still awaiting a timer. */
  async closeDuringHandler(base, room) {
    const c = await Client.open(base, room);
    c.send("slow:3");
    await sleep(50);
    c.close(4000, "bye-mid-handler");
    const clientSaw = await c.waitClose();
    const log = await logWhen(base, room, (l) => has("close")(l) && has("slow-end")(l));
    return { clientSaw, log };
  },

  /** setWebSocketAutoResponse: answered without the handler; the timestamp per socket. */
  async autoResponse(base, room) {
    const a = await Client.open(base, room);
    const b = await Client.open(base, room);
    const out: Record<string, unknown> = {};
    a.send("auto-ts");
    out.tsBeforeSet = await a.nextJson();
    a.send("set-auto");
    out.set = await a.nextJson();
    const t0 = Date.now();
    a.send("ping");
    out.pingReply = await a.next();
    const t1 = Date.now();
    a.send("auto-ts");
    const ts1 = (await a.nextJson()) as { isDate: boolean; isNull: boolean; ms: number | null };
    out.tsAfterPing = { isDate: ts1.isDate, isNull: ts1.isNull, withinRequestWindow: ts1.ms !== null && ts1.ms >= t0 - 1_000 && ts1.ms <= t1 + 1_000 };
    await sleep(30);
    a.send("ping");
    out.secondPingReply = await a.next();
    a.send("auto-ts");
    const ts2 = (await a.nextJson()) as { ms: number | null };
    out.timestampAdvanced = ts2.ms !== null && ts1.ms !== null && ts2.ms > ts1.ms;
    a.send("PING");
    out.nonMatching = await a.nextJson();
    b.send("auto-ts");
    out.otherSocketTs = await b.nextJson();
    b.send("ping");
    out.otherSocketPing = await b.next();
    a.send("clear-auto");
    out.cleared = await a.nextJson();
    a.send("ping");
    out.pingAfterClear = await a.nextJson();
    a.close(1000);
    b.close(1000);
    await Promise.all([a.waitClose(), b.waitClose()]);
    out.log = await logWhen(base, room, (l) => l.events.filter((e) => e.ev === "close").length >= 2);
    return out;
  },

  /** The key-value storage API: every method, option and error. */
  async kv(base, room) {
    return getJson(base, `/room/${room}/kv`);
  },

  /** The SQL API: exec, cursors, counters, bindings, errors. */
  async sql(base, room) {
    return getJson(base, `/room/${room}/sql`);
  },

  /** idFromString's conversion and errors, get() with a non-id, idFromName with a non-string. */
  async ids(base) {
    return getJson(base, "/ids");
  },

  /** An alarm fires; inside alarm() getAlarm() is null, so it reschedules once. */
  async alarm(base, room) {
    const scheduled = await getJson(base, `/room/${room}/alarm`);
    const log = await logWhen(base, room, (l) => l.events.filter((e) => e.ev === "alarm").length >= 2, 5_000, 0);
    return { scheduled, log };
  },

  /** An object answers 101 with a WebSocket to a request that asked for no upgrade. */
  async upgradeWithoutUpgradeHeader(base, room) {
    const res = await fetch(`${base}/room/${room}/connect?force=1`);
    // The first line only: miniflare's body goes on with a stack trace naming local paths.
    return { status: res.status, firstLine: (await res.text()).split("\n")[0] };
  },

  /** Large text messages from the client. */
  async bigMessages(base, room) {
    const out: Record<string, unknown> = {};
    for (const [label, size] of [
      ["1MiB+1", 1024 * 1024 + 1],
      ["2MiB", 2 * 1024 * 1024],
      ["33MiB", 33 * 1024 * 1024],
    ] as const) {
      const c = await Client.open(base, room);
      c.send("x".repeat(size));
      const reply = await c.nextJson(5_000);
      // The Close frame the server sent, if any (ws reports it once the connection ends).
      const closed = reply === null ? await c.closeFrame(2_000) : null;
      out[label] = { reply, closed, openAfter: ((await getJson(base, `/room/${room}/sockets`)) as { body: unknown }).body };
      if (c.closed === null) {
        c.close(1000);
        await c.waitClose();
      }
    }
    out.log = await logWhen(base, room, (l) => l.events.filter((e) => e.ev === "close").length >= 3, 3_000);
    return out;
  },
};

async function throwing(base: string, room: string, cmd: string) {
  const c = await Client.open(base, room);
  c.send(cmd);
  const closedAfterThrow = await c.waitClose(1_000);
  let echoAfterThrow: unknown = null;
  if (closedAfterThrow === null) {
    c.send("echo:alive");
    echoAfterThrow = await c.nextJson();
    c.close(1000);
    await c.waitClose();
  }
  const log = await logWhen(base, room, has("close"), 2_000);
  return { closedAfterThrow, echoAfterThrow, log };
}

/**
 * The scenarios about closing report everything webSocketClose sees; the
 * others keep only code, reason and wasClean of their close events, so one
 * difference in close semantics is reported once, not in every scenario.
 */
const CLOSE_SCENARIOS = new Set(["clientCloses", "clientClosesHandlerReplies", "serverCloses", "clientDrops"]);

function slimCloses(observation: unknown): unknown {
  const log = (observation as { log?: Log } | null)?.log;
  if (log === undefined) return observation;
  log.events = log.events.map((e) => (e.ev === "close" ? { gen: e.gen, ev: e.ev, code: e.code, reason: e.reason, wasClean: e.wasClean } : e));
  return observation;
}

/** Runs every scenario against one target, each in a fresh room. */
export async function observe(target: Target, only?: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, run] of Object.entries(scenarios)) {
    if (only !== undefined && !only.includes(name)) continue;
    try {
      const observation = await run(target.url, `${name}-room`);
      out[name] = CLOSE_SCENARIOS.has(name) ? observation : slimCloses(observation);
    } catch (error) {
      out[name] = { harnessError: (error as Error).message };
    }
  }
  return out;
}

// ---- HTTP requests with hop-by-hop headers ---------------------------------------

/** Headers that describe one connection, not the request: what does a Worker see of them? */
const HOP_BY_HOP = {
  connection: "keep-alive, x-conn-listed",
  "keep-alive": "timeout=5",
  te: "trailers",
  "proxy-connection": "keep-alive",
  "x-conn-listed": "listed in Connection",
  "x-plain": "an end-to-end header",
};

/** Sends a request with raw control over headers (fetch() refuses some); the response's status and JSON body. */
function rawRequest(base: string, path: string, method: string, headers: Record<string, string>, chunks: string[] | null): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode, firstLine: text.split("\n")[0] });
        }
      });
    });
    req.on("error", reject);
    for (const chunk of chunks ?? []) req.write(chunk);
    req.end();
  });
}

/** Header names and values a Worker saw, without the ones that name this run's ports or the runtime. */
function comparableHeaders(observation: unknown): unknown {
  const o = observation as { body?: { headers?: [string, string][]; acceptEncoding?: string | null } };
  if (o.body?.headers) {
    // Reported apart: workerd adds one to a request that has none (the client here sends none).
    o.body.acceptEncoding = o.body.headers.find(([name]) => name === "accept-encoding")?.[1] ?? null;
    o.body.headers = o.body.headers
      .filter(([name]) => name !== "host" && name !== "accept-encoding" && !name.startsWith("cf-") && name !== "x-forwarded-proto" && name !== "x-real-ip")
      .sort();
  }
  return observation;
}

/** Headers an HTTP client may set itself; reported apart unless they carry the value the test client sent. */
const CLIENT_OWN = new Set(["accept", "accept-language", "accept-encoding", "sec-fetch-mode", "user-agent", "connection", "keep-alive"]);

/** A plain origin server that reports what it received, for the proxying Worker. */
export async function startOrigin(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    let length = 0;
    req.on("data", (chunk: Buffer) => (length += chunk.length));
    req.on("end", () => {
      const headers: [string, string][] = [];
      const clientOwn: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (name === "host" || name.startsWith("cf-") || name === "x-forwarded-proto" || name === "x-real-ip") continue;
        // What the outgoing HTTP client adds of its own (Node's fetch: accept, user-agent, …), apart from what was forwarded.
        if (CLIENT_OWN.has(name) && value !== HOP_BY_HOP[name as keyof typeof HOP_BY_HOP]) clientOwn[name] = String(value);
        else headers.push([name, String(value)]);
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, headers: headers.sort(), clientOwn, bodyLength: length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/origin`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

let origin: Promise<{ url: string; stop(): Promise<void> }> | null = null;
/** One origin for the whole run (stopped at exit). */
function originUrl(): Promise<string> {
  origin ??= startOrigin().then((o) => {
    process.once("beforeExit", () => void o.stop());
    return o;
  });
  return origin.then((o) => o.url);
}

Object.assign(scenarios, {
  /** What a Worker's Request holds of hop-by-hop headers, on a GET and on a chunked POST. */
  async hopByHopHeaders(base: string) {
    const get = comparableHeaders(await rawRequest(base, "/headers", "GET", HOP_BY_HOP, null));
    const chunked = comparableHeaders(await rawRequest(base, "/headers", "POST", { ...HOP_BY_HOP, "transfer-encoding": "chunked" }, ["ab", "cd", "ef"]));
    return { get, chunked };
  },

  /** A Worker proxying with fetch(origin, request): a chunked upload and a Keep-Alive header. */
  async proxyHopByHop(base: string) {
    const to = encodeURIComponent(await originUrl());
    const chunked = await rawRequest(base, `/proxy?to=${to}`, "POST", { "transfer-encoding": "chunked", "x-plain": "1" }, ["ab", "cd"]);
    const keepAlive = await rawRequest(base, `/proxy?to=${to}`, "GET", { connection: "keep-alive", "keep-alive": "timeout=5", "x-plain": "1" }, null);
    const both = await rawRequest(base, `/proxy?to=${to}`, "POST", HOP_BY_HOP, ["xyz"]);
    return { chunked, keepAlive, both };
  },
} satisfies Record<string, Scenario>);
