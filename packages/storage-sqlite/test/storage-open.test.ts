import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, VirtualClock, WebSocketPair, type Logger, type WebSocket } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";

/**
 * Storage that cannot be opened (here for real: a corrupt file makes SQLite
 * say "file is not a database", a file where the namespace directory should
 * be makes mkdir fail, as a full disk or "too many open files" would) fails
 * the event that needed it with ERR_STORAGE_OPEN, on every path, and never
 * runs that event later.
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
    try {
      this.ctx.storage.kv.get("k");
      ws.send(`got ${String(message)}`);
    } catch (error) {
      ws.send(`failed ${(error as { code?: string }).code}`);
    }
  }
  async increment(): Promise<number> {
    runs++;
    await this.ctx.storage.put("k", runs);
    return runs;
  }
  async remember(): Promise<void> {
    await this.ctx.storage.put("k", 0);
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
  const objectFiles = () => readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /[0-9a-f]{64}\.sqlite/.test(f));
  /** Replaces the object's database with bytes SQLite refuses to open. */
  const corrupt = () => {
    const files = objectFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) writeFileSync(join(dir, f), f.endsWith(".sqlite") ? Buffer.alloc(4096, "not a database ") : Buffer.alloc(0));
  };
  /** Deletes the object's files: it opens again, empty. */
  const repair = () => {
    for (const f of objectFiles()) rmSync(join(dir, f));
  };
  return { dir, runtime, stub, logger, corrupt, repair, objectFiles };
}

describe("an object database that cannot be opened (opened on first use)", () => {
  test("the storage call throws ERR_STORAGE_OPEN to its caller; the failed call is not run again", async () => {
    runs = 0;
    const { runtime, stub, logger, corrupt, repair } = setup();
    await stub.remember();
    await runtime.hibernate(stub);
    corrupt();
    await expect(stub.increment()).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN", message: expect.stringMatching(/file is not a database/) });
    expect(runs).toBe(1);
    repair();
    expect(await stub.increment()).toBe(2);
    expect(logger.errors).toEqual([]);
  });

  test("a WebSocket handler gets ERR_STORAGE_OPEN from the storage call; the socket and the process go on", async () => {
    runs = 0;
    const { runtime, stub, corrupt } = setup();
    const { url } = await runtime.listen({ port: 0 });
    const client = new WsClient(`${url.replace("http", "ws")}/K/k`);
    onTestFinished(() => client.terminate());
    const messages: string[] = [];
    const next = () => new Promise<string>((resolve) => client.once("message", (data) => resolve(String(data))));
    await new Promise((resolve) => client.once("open", resolve));
    await stub.remember();
    await runtime.hibernate(stub);
    corrupt();
    client.send("hello");
    messages.push(await next());
    client.send("again");
    messages.push(await next());
    expect(messages).toEqual(["failed ERR_STORAGE_OPEN", "failed ERR_STORAGE_OPEN"]);
    expect(runs).toBe(2);
  });

  test("an alarm that cannot read its storage is retried with backoff, not in a loop", async () => {
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

describe("a provider that cannot open an object at all (its directory cannot be made)", () => {
  /** A file where the namespace's directory must go: mkdir fails for real, as on a full disk. */
  function blockNamespaceDir(dir: string, objectFile: string): void {
    const nsDir = join(dir, dirname(objectFile));
    rmSync(nsDir, { recursive: true, force: true });
    mkdirSync(dirname(nsDir), { recursive: true });
    writeFileSync(nsDir, "in the way");
  }

  test("RPC and fetch reject with ERR_STORAGE_OPEN, a message closes its socket with 1011, and nothing runs later", async () => {
    runs = 0;
    const first = setup();
    await first.stub.remember();
    const [file] = first.objectFiles();
    await first.runtime.close();
    blockNamespaceDir(first.dir, file!);

    const logger = recording();
    const runtime = new Runtime({ objects: { K: Keeper }, storage: sqliteStorage({ dir: first.dir }), logger });
    onTestFinished(() => runtime.close());
    const stub = runtime.namespace<Keeper>("K").getByName("k");
    await expect(stub.increment()).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN" });
    await expect(stub.fetch("http://x/")).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN" });
    expect(runs).toBe(0);
    expect(logger.errors.map((e) => e.code)).toEqual(["ERR_STORAGE_OPEN", "ERR_STORAGE_OPEN"]);
  });
});
