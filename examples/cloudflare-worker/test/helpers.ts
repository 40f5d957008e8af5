/**
 * Test helpers: `torpor dev`/`torpor start` as a real child process (port 0,
 * the URL read back from its stdout) and WebSocket clients with an awaitable
 * message queue. Nothing here sleeps to synchronize.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

export const exampleDir = fileURLToPath(new URL("..", import.meta.url));
const bin = fileURLToPath(new URL("../../../packages/cli/bin/torpor.js", import.meta.url));

const STARTUP_MS = 60_000;

export interface TorporProcess {
  child: ChildProcess;
  url: string;
  adminUrl: string | null;
  /** Every stdout line so far. */
  stdout: string[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process ends. */
  exited: Promise<number | string>;
  /** Kills the process if it still runs (SIGKILL; for cleanup). */
  kill(): void;
}

/** Starts the CLI in the example directory (or `cwd`) and waits for its listening line(s). */
export async function startTorpor(args: string[], options: { admin?: boolean; cwd?: string } = {}): Promise<TorporProcess> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? exampleDir, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));

  let url: string | null = null;
  let adminUrl: string | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`torpor did not print its URL within ${STARTUP_MS} ms.\nstdout:\n${stdout.join("\n")}\nstderr:\n${stderr}`)),
      STARTUP_MS,
    );
    const check = () => {
      if (url !== null && (options.admin !== true || adminUrl !== null)) {
        clearTimeout(timer);
        resolve();
      }
    };
    let buffer = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        stdout.push(line);
        const parsed = parseListening(line);
        if (parsed?.kind === "app") url = parsed.url;
        if (parsed?.kind === "admin") adminUrl = parsed.url;
        check();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`torpor exited (${code}) before listening.\nstderr:\n${stderr}`));
    });
  });
  await ready;
  return {
    child,
    url: url!,
    adminUrl,
    stdout,
    stderr: () => stderr,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** `Ready on <url>` / `Admin on <url>` (dev) or the JSON `Listening` / `Admin listening` lines (start). */
function parseListening(line: string): { kind: "app" | "admin"; url: string } | null {
  const text = /^(Ready|Admin) on (\S+)$/.exec(line);
  if (text !== null) return { kind: text[1] === "Ready" ? "app" : "admin", url: text[2]! };
  if (!line.startsWith("{")) return null;
  const entry = JSON.parse(line) as { message?: string; url?: string };
  if (entry.message === "Listening" && entry.url !== undefined) return { kind: "app", url: entry.url };
  if (entry.message === "Admin listening" && entry.url !== undefined) return { kind: "admin", url: entry.url };
  return null;
}

/** A WebSocket client whose messages are awaited in order with `next()`. */
export class Client {
  readonly ws: WebSocket;
  readonly #queue: string[] = [];
  readonly #waiters: Array<{ resolve: (m: string) => void; reject: (e: Error) => void }> = [];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length}>` : String(data);
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.resolve(text);
      else this.#queue.push(text);
    });
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`Socket closed (${code}) while waiting for a message`));
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  static async connect(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    const client = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return client;
  }

  send(value: unknown): void {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** The next message as text (rejects after `timeoutMs`). */
  next(timeoutMs = 5_000): Promise<string> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No message within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** The next message, parsed as JSON. */
  async json<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.next(timeoutMs)) as T;
  }

  close(code = 1000, reason = ""): void {
    this.ws.close(code, reason);
  }
}

/** `http://` → `ws://`. */
export function wsUrl(url: string, path: string): string {
  return `${url.replace(/^http/, "ws")}${path}`;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "torpor-cf-worker-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Polls `fn` until it returns a value that is not undefined (rejects at the deadline). */
export async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
