/**
 * Test helpers for the chat example: a real runtime on port 0 with SQLite in
 * a temp dir, and WebSocket clients with an awaitable message queue (no
 * sleeping to synchronize anywhere).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { Runtime, type Logger } from "@torpor/core";
import { sqliteStorage } from "@torpor/storage-sqlite";
import WebSocket from "ws";
import type { ServerFrame } from "../src/protocol.ts";
import worker, { ChatRoom } from "../src/worker.ts";

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown> | undefined;
}

/** A logger that records instead of printing (tests fail on console output). */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry["level"]) => (message: string, fields?: Record<string, unknown>) => {
    entries.push({ level, message, fields });
  };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export interface ChatServer {
  runtime: Runtime;
  url: string;
  port: number;
  dir: string;
  logger: ReturnType<typeof recordingLogger>;
  /** The DurableObjectId of a room, for hibernate()/inspect(). */
  roomId(room: string): ReturnType<ReturnType<Runtime["namespace"]>["idFromName"]>;
  /** Stops the runtime (graceful: sockets get 1012). Idempotent. */
  stop(): Promise<void>;
}

/** Creates a fresh temp data directory, removed by `removeDir`. */
export function tempDir(): string {
  return mkdtempSync(joinPath(tmpdir(), "torpor-chat-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts the chat app on 127.0.0.1 (port 0 unless given) with its data in `dir`. */
export async function startChat(dir: string, port = 0): Promise<ChatServer> {
  const logger = recordingLogger();
  const runtime = new Runtime({
    objects: { CHAT_ROOM: ChatRoom },
    fetch: worker.fetch,
    storage: sqliteStorage({ dir, synchronous: "OFF" }),
    logger,
  });
  const listening = await runtime.listen({ port, host: "127.0.0.1" });
  const namespace = runtime.namespace("CHAT_ROOM");
  return {
    runtime,
    url: listening.url.replace(/\/$/, ""),
    port: listening.port,
    dir,
    logger,
    roomId: (room) => namespace.idFromName(room),
    stop: () => runtime.close(),
  };
}

/** Frames as received: JSON frames parsed, anything else (the heartbeat `pong`) as `{ raw }`. */
export type Received = ServerFrame | { type: "raw"; raw: string };

/** A test client: every frame goes into a queue that `next()` takes from in order. */
export class ChatClient {
  readonly ws: WebSocket;
  readonly #queue: Received[] = [];
  readonly #waiters: { resolve: (f: Received) => void; reject: (e: Error) => void }[] = [];
  #closedError: Error | null = null;
  /** Resolves with the close code and reason once the connection is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves when open; rejects with the HTTP status if the upgrade is refused. */
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
        this.ws.terminate();
      });
      this.ws.once("error", reject);
    });
    // Observed by `opened` and `closed`; listening here keeps an error from becoming an unhandled event.
    this.ws.on("error", () => {});
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.#closedError = new Error(`socket closed (${code}) while waiting for a frame`);
        for (const w of this.#waiters.splice(0)) w.reject(this.#closedError);
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      let frame: Received;
      try {
        const parsed: unknown = JSON.parse(text);
        frame = typeof parsed === "object" && parsed !== null && "type" in parsed ? (parsed as ServerFrame) : { type: "raw", raw: text };
      } catch {
        frame = { type: "raw", raw: text };
      }
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.#queue.push(frame);
    });
  }

  /** The next frame, in arrival order. */
  next(): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The next frame, which must be of `type` (anything else fails the test with the frame shown). */
  async expect<T extends Received["type"]>(type: T): Promise<Extract<Received, { type: T }>> {
    const frame = await this.next();
    if (frame.type !== type) throw new Error(`expected a "${type}" frame, got ${JSON.stringify(frame)}`);
    return frame as Extract<Received, { type: T }>;
  }

  /** Frames received but not yet taken. */
  get pending(): readonly Received[] {
    return this.#queue;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a chat message and waits for this client's own copy of the broadcast. */
  async say(text: string): Promise<Extract<Received, { type: "message" }>> {
    this.send({ type: "message", text });
    return this.expect("message");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000, "done");
    await this.closed;
  }
}

/** Opens a client into `room` and waits for its welcome. */
export async function join(
  server: { url: string },
  room: string,
  name: string,
  uid?: string,
): Promise<{ client: ChatClient; welcome: Extract<Received, { type: "welcome" }> }> {
  const client = new ChatClient(wsUrl(server, room, name, uid));
  await client.opened;
  const welcome = await client.expect("welcome");
  return { client, welcome };
}

export function wsUrl(server: { url: string }, room: string, name: string, uid?: string): string {
  const params = new URLSearchParams({ name });
  if (uid !== undefined) params.set("uid", uid);
  return `${server.url.replace(/^http/, "ws")}/r/${room}/ws?${params}`;
}
