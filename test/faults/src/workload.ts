/**
 * The clients of a fault-schedule run: HTTP clients doing a mix of
 * operations with unique ids (acknowledged KV and SQL writes, RPC calls whose
 * answer follows from the request, long calls, request bodies, streamed
 * responses, alarms) and WebSocket clients sending numbered messages and
 * checking their echoes. Everything goes into the history; `subjectModel`
 * tells the checker what each correct answer is. The clients speak the
 * subject Worker's HTTP API (subject-worker.ts) to whatever base URLs
 * `targets()` returns at the time (one cluster, or several nodes).
 */
import { WebSocket } from "ws";
import type { Model } from "./checker.ts";
import type { History, Operation } from "./history.ts";
import { DeadlineExceeded, httpCall, type HttpReply } from "./http-call.ts";
import type { Random } from "./random.ts";

/** How the clients behave. */
export interface WorkloadOptions {
  history: History;
  rng: Random;
  /** Base URLs (http://host:port) the clients may use now; empty while the system is down. */
  targets(): string[];
  /** Concurrent HTTP clients (default 6). */
  httpClients?: number;
  /** Concurrent WebSocket clients (default 3). */
  wsClients?: number;
  /** Object names the operations spread over (default 24). */
  objects?: number;
  /** How long an operation may take before it is a hang (default 30 s; a `sleep` gets its own length on top). */
  deadlineMs?: number;
}

const checksum = (text: string): number => {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) >>> 0;
  return h;
};

/** What the subject Worker must answer to each operation. */
export const subjectModel: Model = {
  isWrite: (op) => op.kind === "kv" || op.kind === "sql",
  expected(op) {
    switch (op.kind) {
      case "kv":
      case "sql":
      case "sleep":
        return { op: op.id, value: op.args };
      case "echo":
        return { op: op.id, value: [...(op.args as string)].reverse().join("") };
      case "arm":
        return { op: op.id, value: (op.args as { at: number }).at };
      case "post":
        return { op: op.id, value: { length: (op.args as string).length, checksum: checksum(op.args as string) } };
      default:
        return undefined;
    }
  },
  alarmDue: (op) => (op.kind === "arm" ? (op.args as { due: number }).due : undefined),
  /** A stream answers with its own op and every chunk in order; one whose first chunk arrived only after its last was made was buffered somewhere. */
  verify(op) {
    if (op.kind !== "stream" || op.outcome !== "ok") return [];
    const value = op.value as { op?: unknown; chunks?: unknown; streamed?: boolean };
    if (value.op !== op.id || value.chunks !== op.args) {
      return [
        {
          kind: "wrong-reply",
          message: `stream ${op.id} on ${op.object} answered ${JSON.stringify(value)}, expected ${op.args} chunks of its own`,
          detail: op,
        },
      ];
    }
    if (value.streamed === false) {
      return [{ kind: "not-streamed", message: `stream ${op.id} on ${op.object}: the first chunk arrived after the last one was made`, detail: op }];
    }
    return [];
  },
};

/** Runs the clients until `stop()`. */
export class Workload {
  readonly options: Required<WorkloadOptions>;
  #running = false;
  readonly #loops: Promise<void>[] = [];
  #alarms = 0;

  constructor(options: WorkloadOptions) {
    this.options = { httpClients: 6, wsClients: 3, objects: 24, deadlineMs: 30_000, ...options };
  }

  /** Starts every client. */
  start(): void {
    this.#running = true;
    for (let i = 0; i < this.options.httpClients; i++) this.#loops.push(this.#httpClient(`h${i}`, this.options.rng.fork()));
    for (let i = 0; i < this.options.wsClients; i++) this.#loops.push(this.#wsClient(`w${i}`, this.options.rng.fork()));
  }

  /** Stops invoking; resolves when every operation completed (each is bounded by its deadline) and every WebSocket drained and closed. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  #target(rng: Random): string | null {
    const targets = this.options.targets();
    return targets.length === 0 ? null : rng.pick(targets);
  }

  async #httpClient(name: string, rng: Random): Promise<void> {
    const { history } = this.options;
    while (this.#running) {
      const target = this.#target(rng);
      if (target === null) {
        await pause(100);
        continue;
      }
      const object = `o${rng.int(0, this.options.objects - 1)}`;
      const kind = rng.weighted([
        { weight: 25, value: "kv" },
        { weight: 25, value: "sql" },
        { weight: 20, value: "echo" },
        { weight: 8, value: "post" },
        { weight: 8, value: "sleep" },
        { weight: 7, value: "arm" },
        { weight: 7, value: "stream" },
      ]);
      await this.#operation(name, kind, object, target, rng, history);
    }
  }

  async #operation(client: string, kind: string, object: string, target: string, rng: Random, history: History): Promise<void> {
    const deadlineMs = this.options.deadlineMs;
    let op: Operation;
    let call: Promise<HttpReply>;
    const rpc = (arg: unknown) => `${target}/${kind}/${encodeURIComponent(op.object)}?op=${op.id}&arg=${encodeURIComponent(JSON.stringify(arg))}`;
    switch (kind) {
      case "kv":
      case "sql": {
        op = history.invoke(client, kind, object, `v${rng.int(0, 1e9)}`, deadlineMs);
        call = httpCall(rpc(op.args), { deadlineMs });
        break;
      }
      case "echo": {
        op = history.invoke(client, kind, object, `e${rng.int(0, 1e9)}-${"abc".repeat(rng.int(0, 20))}`, deadlineMs);
        call = httpCall(rpc(op.args), { deadlineMs });
        break;
      }
      case "sleep": {
        const ms = rng.int(100, 2_500);
        op = history.invoke(client, kind, object, ms, deadlineMs + ms);
        call = httpCall(rpc(ms), { deadlineMs: deadlineMs + ms });
        break;
      }
      case "arm": {
        // Each alarm on an object of its own: a later setAlarm() would replace an earlier one.
        const delay = rng.int(200, 3_000);
        const at = Date.now() + delay;
        op = history.invoke(client, kind, `a${this.#alarms++}`, { at, due: history.now() + delay }, deadlineMs);
        call = httpCall(rpc(at), { deadlineMs });
        break;
      }
      case "post": {
        const body = "p".repeat(rng.int(0, 200_000)) + rng.int(0, 1e9);
        op = history.invoke(client, kind, object, body, deadlineMs);
        call = httpCall(`${target}/post/${object}?op=${op.id}`, { method: "POST", body, deadlineMs });
        break;
      }
      default: {
        const chunks = rng.int(5, 8);
        op = history.invoke(client, "stream", object, chunks, deadlineMs);
        call = httpCall(`${target}/stream/${object}?op=${op.id}&arg=${chunks}`, { deadlineMs });
      }
    }
    try {
      const reply = await call;
      if (reply.status !== 200) {
        history.complete(op, "error", { error: errorOf(reply) });
        return;
      }
      history.complete(op, "ok", { value: kind === "stream" ? streamValue(reply) : rpcValue(reply) });
    } catch (error) {
      if (error instanceof DeadlineExceeded) history.complete(op, "timeout");
      else history.complete(op, "error", { error: { message: (error as Error).message } });
    }
  }

  async #wsClient(client: string, rng: Random): Promise<void> {
    while (this.#running) {
      const target = this.#target(rng);
      if (target === null) {
        await pause(100);
        continue;
      }
      await this.#session(client, `o${rng.int(0, this.options.objects - 1)}`, target, rng);
      if (this.#running) await pause(rng.int(50, 500));
    }
  }

  /** One connection: numbered messages, a few in flight at a time, for a while; then drain and close. */
  async #session(client: string, object: string, target: string, rng: Random): Promise<void> {
    const session = this.options.history.session(client, object);
    const ws = new WebSocket(`${target.replace(/^http/, "ws")}/ws/${object}?op=${session.id}`);
    const lifetime = rng.int(2_000, 20_000);
    const window = rng.int(1, 4);
    let sending = true;
    let progressed = () => {};
    const send = () => {
      while (sending && ws.readyState === WebSocket.OPEN && session.sent - session.received.length < window) ws.send(`seq:${session.sent++}`);
    };
    const ended = new Promise<void>((resolve) => {
      ws.on("error", () => {});
      ws.on("open", () => {
        session.opened = this.options.history.now();
        send();
      });
      ws.on("message", (data) => {
        const text = String(data);
        if (text.startsWith("echo:")) session.received.push(Number(text.slice(5)));
        send();
        progressed();
      });
      ws.on("close", (code, reason) => {
        session.closed ??= { at: this.options.history.now(), code, reason: reason.toString(), byClient: false };
        progressed();
        resolve();
      });
    });
    const started = Date.now();
    while (this.#running && session.closed === null && Date.now() - started < lifetime) {
      await Promise.race([ended, pause(250)]);
    }
    sending = false;
    if (session.closed !== null) return;
    if (session.opened === null) {
      // Never opened: not a session that stayed open.
      ws.terminate();
      await ended;
      return;
    }
    // Drain: every message sent gets its echo while the connection stays open.
    const deadline = Date.now() + this.options.deadlineMs;
    while (session.closed === null && session.received.length < session.sent && Date.now() < deadline) {
      await Promise.race([ended, new Promise<void>((resolve) => (progressed = resolve)), pause(250)]);
    }
    if (session.closed === null) {
      session.closed = { at: this.options.history.now(), code: 1000, reason: "done", byClient: true };
      ws.close(1000, "done");
      await Promise.race([ended, pause(5_000)]);
      ws.terminate();
    }
  }
}

function errorOf(reply: HttpReply): Operation["error"] {
  try {
    const body = JSON.parse(reply.text) as { error?: { code?: string; message?: string } };
    return { status: reply.status, ...(body.error?.code !== undefined ? { code: body.error.code } : {}), message: body.error?.message ?? reply.text };
  } catch {
    return { status: reply.status, message: reply.text.slice(0, 200) };
  }
}

function rpcValue(reply: HttpReply): unknown {
  try {
    const { op, value } = JSON.parse(reply.text) as { op: unknown; value: unknown };
    return { op, value };
  } catch {
    return { unparsable: reply.text.slice(0, 200) };
  }
}

/** A stream's answer: its op, its chunks (a count when they came in order) and whether the first arrived before the last was made. */
function streamValue(reply: HttpReply): unknown {
  let chunks: Array<{ op: string; n: number; at: number }>;
  try {
    chunks = reply.lines.map((l) => JSON.parse(l.text) as { op: string; n: number; at: number });
  } catch {
    return { unparsable: reply.text.slice(0, 200) };
  }
  if (chunks.length === 0) return { op: null, chunks: 0 };
  const ops = [...new Set(chunks.map((c) => c.op))];
  return {
    op: ops.join(","),
    chunks: chunks.every((c, i) => c.n === i) ? chunks.length : chunks.map((c) => c.n),
    streamed: reply.lines[0]!.at < chunks.at(-1)!.at,
    // For the report: how long after it was made the first chunk arrived, and how long the stream took to make.
    firstLagMs: reply.lines[0]!.at - chunks[0]!.at,
    madeOverMs: chunks.at(-1)!.at - chunks[0]!.at,
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
