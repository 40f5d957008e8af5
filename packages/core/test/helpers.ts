import { onTestFinished } from "vitest";
import { WebSocket as WsClient } from "ws";
import { Runtime, recordingLogger, type RuntimeOptions } from "../src/index.ts";

export { recordingLogger };

/** A runtime listening on 127.0.0.1:0, closed when the test ends. */
export async function startRuntime(options: RuntimeOptions) {
  const logger = options.logger ?? recordingLogger();
  const runtime = new Runtime({ ...options, logger });
  const { url, port } = await runtime.listen({ port: 0 });
  onTestFinished(() => runtime.close());
  return { runtime, url, port, wsUrl: url.replace("http", "ws"), logger: logger as ReturnType<typeof recordingLogger> };
}

/** A WebSocket test client whose messages are awaited in order, never slept for. */
export interface TestClient {
  ws: WsClient;
  send(data: string | Buffer | ArrayBuffer): void;
  /** The next message (text as string, binary as Buffer). */
  next(timeoutMs?: number): Promise<string | Buffer>;
  /** Resolves when the connection closes. */
  closed: Promise<{ code: number; reason: string }>;
  close(code?: number, reason?: string): void;
}

export async function connect(url: string, protocols?: string | string[]): Promise<TestClient> {
  const ws = new WsClient(url, protocols);
  const queue: Array<string | Buffer> = [];
  const waiting: Array<(m: string | Buffer) => void> = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const message = isBinary ? data : data.toString();
    const w = waiting.shift();
    if (w) w(message);
    else queue.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("error", () => {});
  onTestFinished(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    ws.once("error", reject);
  });
  return {
    ws,
    send: (data) => ws.send(data),
    next(timeoutMs = 5_000) {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
    },
    closed,
    close: (code, reason) => ws.close(code, reason),
  };
}
