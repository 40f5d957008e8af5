/**
 * Inbound backpressure: one client sending small frames faster than its
 * object handles them (a handler that awaits a timer) grew the object's event
 * queue without limit (285k events, +120 MB in 1.5 s in the report). Past
 * `limits.maxPendingEvents` queued or running, the runtime stops reading the
 * socket (TCP flow control holds the sender back) and reads again at half:
 * the object's pending events stay within the bound plus what one read from
 * the socket holds, and every frame is still handled, in order.
 */
import { describe, expect, test, vi } from "vitest";
import { DurableObject, Response, WebSocketPair, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

/** Frames sent in a burst (fewer where handling is serial: each blockConcurrencyWhile() takes a timer turn). */
let FRAMES = 4_000;
const PAYLOAD = "x".repeat(200);
const BOUND = 100;
/** What one read from the socket can hold beyond the bound: 64 KiB of frames (each 200 bytes + 8 of header and mask). */
const ONE_READ = Math.ceil((64 * 1024) / 208);

let handled: number[] = [];

class Slow extends DurableObject {
  override fetch(request: Request): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    if (new URL(request.url).searchParams.has("standard")) {
      server.accept();
      // A listener returns at once; what holds this object's events back is the gate it holds while it works.
      server.addEventListener("message", (event) => void this.ctx.blockConcurrencyWhile(() => this.handle(String((event as MessageEvent).data), server)));
    } else {
      this.ctx.acceptWebSocket(server);
    }
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.handle(String(message), ws);
  }
  async handle(message: string, ws: WebSocket): Promise<void> {
    const n = Number(message.slice(0, message.indexOf(" ")));
    handled.push(n);
    // Awaiting a timer lets the next events in: they pile up faster than they finish.
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (n === FRAMES - 1) ws.send("done");
  }
}

/** The most events the object had pending (queued + running) while the flood went through. */
async function flood(query: string): Promise<number> {
  handled = [];
  const { runtime, wsUrl } = await startRuntime({ objects: { S: Slow }, limits: { maxPendingEvents: BOUND } });
  const stub = runtime.namespace("S").getByName("s");
  const client = await connect(`${wsUrl}/S/s${query}`);
  for (let i = 0; i < FRAMES; i++) client.send(`${i} ${PAYLOAD}`);
  let peak = 0;
  let done = false;
  void client.next(60_000).then(() => (done = true));
  // Sampled every turn until the last frame was handled.
  while (!done) {
    const pending = runtime.inspect(stub).blockers.reduce((n, b) => n + (Number(/^(\d+) event\(s\) (?:queued|in flight)/.exec(b)?.[1]) || 0), 0);
    peak = Math.max(peak, pending);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return peak;
}

describe("inbound backpressure", () => {
  test.each([
    ["a hibernatable socket", "", 4_000],
    ["a socket accepted with ws.accept()", "?standard", 1_000],
  ])(
    "%s stops being read while its object has too many events pending; every frame is handled, in order",
    { timeout: 60_000 },
    async (_what, query, frames) => {
      FRAMES = frames;
      const peak = await flood(query);
      expect(peak).toBeLessThanOrEqual(BOUND + ONE_READ);
      await vi.waitFor(() => expect(handled).toHaveLength(FRAMES));
      expect(handled).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    },
  );
});
