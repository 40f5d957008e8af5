import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, VirtualClock, WebSocketPair, type Logger, type WebSocket } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";

/**
 * An object whose storage cannot be opened (here a corrupt file: SQLite says
 * "file is not a database", as it would say "disk full" or "too many open
 * files") fails the event that needed it with ERR_STORAGE_OPEN, on every
 * path, and never runs that event later.
 */

let runs = 0;

class Keeper extends DurableObject {
  override async fetch(): Promise<Response> {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    runs++;
    ws.send(`got ${String(message)}`);
  }
  async increment(): Promise<number> {
    return ++runs;
  }
  async remember(): Promise<void> {
    await this.ctx.storage.put("k", 1);
  }
  async wakeAt(time: number): Promise<void> {
    await this.ctx.storage.setAlarm(time);
  }
  override async alarm(): Promise<void> {
    runs++;
  }
}

function recording(): Logger & { errors: Array<{ message: string; code?: string }> } {
  const errors: Array<{ message: string; code?: string }> = [];
  return { errors, debug() {}, info() {}, warn() {}, error: (message, f) => void errors.push({ message, code: (f?.error as { code?: string })?.code }) };
}

function setup(clock?: VirtualClock) {
  const dir = mkdtempSync(join(tmpdir(), "torpor-open-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const logger = recording();
  // No cache of closed handles: a hibernated object really reopens its file.
  const runtime = new Runtime({ objects: { K: Keeper }, storage: sqliteStorage({ dir, maxOpenDatabases: 0 }), logger, ...(clock ? { clock } : {}) });
  onTestFinished(() => runtime.close());
  const stub = runtime.namespace<Keeper>("K").getByName("k");
  /** Replaces the object's database with bytes SQLite refuses to open. */
  const corrupt = () => {
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /[0-9a-f]{64}\.sqlite/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) writeFileSync(join(dir, f), f.endsWith(".sqlite") ? Buffer.alloc(4096, "not a database ") : Buffer.alloc(0));
  };
  /** Deletes the object's files: it opens again, empty. */
  const repair = () => {
    for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /[0-9a-f]{64}\.sqlite/.test(f))) rmSync(join(dir, f));
  };
  return { runtime, stub, logger, corrupt, repair };
}

describe("storage that cannot be opened", () => {
  test("an RPC call or fetch rejects with ERR_STORAGE_OPEN and is never run later", async () => {
    runs = 0;
    const { runtime, stub, logger, corrupt, repair } = setup();
    await stub.remember();
    await runtime.hibernate(stub);
    corrupt();
    await expect(stub.increment()).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN", message: expect.stringMatching(/file is not a database/) });
    await expect(stub.fetch("http://x/")).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN" });
    expect(logger.errors.map((e) => e.code)).toEqual(["ERR_STORAGE_OPEN", "ERR_STORAGE_OPEN"]);
    repair();
    // The next call runs exactly once: the failed one was dropped, not queued.
    expect(await stub.increment()).toBe(1);
  });

  test("a WebSocket message closes that socket with 1011 and logs ERR_STORAGE_OPEN; the process goes on", async () => {
    runs = 0;
    const { runtime, stub, logger, corrupt } = setup();
    const { url } = await runtime.listen({ port: 0 });
    const client = new WsClient(`${url.replace("http", "ws")}/K/k`);
    onTestFinished(() => client.terminate());
    const closed = new Promise<number>((resolve) => client.once("close", resolve));
    await new Promise((resolve) => client.once("open", resolve));
    await stub.remember();
    await runtime.hibernate(stub);
    corrupt();
    client.send("hello");
    expect(await closed).toBe(1011);
    expect(logger.errors.map((e) => e.code)).toEqual(["ERR_STORAGE_OPEN"]);
    expect(runs).toBe(0);
  });

  test("an alarm is retried with backoff, not in a loop, and not lost", async () => {
    runs = 0;
    const clock = new VirtualClock();
    const { runtime, stub, logger, corrupt } = setup(clock);
    await stub.wakeAt(clock.now() + 1_000);
    await runtime.hibernate(stub);
    corrupt();
    await clock.advance(1_000);
    expect(logger.errors.map((e) => e.code)).toEqual(["ERR_STORAGE_OPEN"]);
    // The first retry waits the initial backoff (2 s, jitter up to 25%).
    await clock.advance(1_999);
    expect(logger.errors).toHaveLength(1);
    await clock.advance(501);
    expect(logger.errors.map((e) => e.code)).toEqual(["ERR_STORAGE_OPEN", "ERR_STORAGE_OPEN"]);
    // A forced run reports the failure to its caller.
    await expect(runtime.runAlarm(stub)).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN" });
    expect(runs).toBe(0);
  });
});
