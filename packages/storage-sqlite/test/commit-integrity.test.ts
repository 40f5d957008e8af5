import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, WebSocketPair, type Logger, type WebSocket } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";

/**
 * A statement that makes SQLite end the batch transaction itself (INSERT OR
 * ROLLBACK on a conflict, RAISE(ROLLBACK) in a trigger) loses every write of
 * that batch, other events' writes included. The batch must then fail like
 * any failed commit: no acknowledgement leaves, the object is reset with
 * 1011, and the caller sees SQLite's own error.
 */

const seen: string[] = [];

class Ledger extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)");
    sql.exec("CREATE TABLE IF NOT EXISTS guarded (id INTEGER)");
    sql.exec("CREATE TRIGGER IF NOT EXISTS no_negative BEFORE INSERT ON guarded WHEN NEW.id < 0 BEGIN SELECT RAISE(ROLLBACK, 'negative ids are refused'); END");
  }
  override async fetch(): Promise<Response> {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const [op, arg = ""] = String(message).split(" ");
    const sql = this.ctx.storage.sql;
    try {
      if (op === "kv") this.ctx.storage.kv.put(arg, 1);
      else if (op === "sql") sql.exec("INSERT INTO t (id, v) VALUES (?, 'x')", Number(arg));
      else if (op === "conflict") sql.exec("INSERT OR ROLLBACK INTO t (id, v) VALUES (?, 'dup')", Number(arg));
      else if (op === "trigger") sql.exec("INSERT INTO guarded (id) VALUES (-1)");
      else if (op === "read") {
        const kv = [...this.ctx.storage.kv.list()].map(([k]) => k);
        const rows = sql
          .exec<{ id: number }>("SELECT id FROM t ORDER BY id")
          .toArray()
          .map((r) => r.id);
        ws.send(JSON.stringify({ kv, rows }));
        return;
      }
      ws.send(`ack ${op} ${arg}`);
    } catch (error) {
      seen.push(`${op}: ${(error as Error).message}`);
      ws.send(`error ${op}`);
    }
  }
}
type DurableObjectState = ConstructorParameters<typeof DurableObject>[0];

function recording(): Logger & { errors: Array<{ message: string; error: unknown }> } {
  const errors: Array<{ message: string; error: unknown }> = [];
  return { errors, debug() {}, info() {}, warn() {}, error: (message, f) => void errors.push({ message, error: f?.error }) };
}

async function start(dir: string) {
  const logger = recording();
  const runtime = new Runtime({ objects: { L: Ledger }, storage: sqliteStorage({ dir }), logger });
  const { url } = await runtime.listen({ port: 0 });
  return { runtime, logger, url: `${url.replace("http", "ws")}/L/room` };
}

interface Client {
  ws: WsClient;
  received: string[];
  next(): Promise<string>;
  closed: Promise<number>;
}

async function connect(url: string): Promise<Client> {
  const ws = new WsClient(url);
  const received: string[] = [];
  const waiting: Array<(m: string) => void> = [];
  ws.on("message", (data) => {
    const m = String(data);
    received.push(m);
    waiting.shift()?.(m);
  });
  ws.on("error", () => {});
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  onTestFinished(() => ws.terminate());
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let read = 0;
  return {
    ws,
    received,
    closed,
    next: () => (read < received.length ? Promise.resolve(received[read++]!) : new Promise<string>((r) => waiting.push((m) => (read++, r(m))))),
  };
}

/** Masked text frames written with one `write()`, so the server reads them in one chunk and runs them in one turn (one batch). */
function sendInOneTurn(client: Client, ...texts: string[]): void {
  const frames = texts.map((text) => {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
  });
  (client.ws as unknown as { _socket: Socket })._socket.write(Buffer.concat(frames));
}

async function readState(url: string): Promise<{ kv: string[]; rows: number[] }> {
  const client = await connect(url);
  client.ws.send("read");
  const state = JSON.parse(await client.next());
  client.ws.close();
  return state;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-integrity-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("a statement that makes SQLite end the batch transaction", () => {
  test.each([
    ["INSERT OR ROLLBACK on a conflict", "conflict 1", /UNIQUE constraint failed: t\.id/],
    ["a trigger's RAISE(ROLLBACK)", "trigger", /negative ids are refused/],
  ])("%s fails the whole batch: no ack for any event of it, 1011, SQLite's error to the caller, nothing durable", async (_name, culprit, sqliteMessage) => {
    seen.length = 0;
    const dir = tempDir();
    let { runtime, logger, url } = await start(dir);
    const client = await connect(url);
    client.ws.send("sql 1");
    expect(await client.next()).toBe("ack sql 1");

    // One turn, one batch: two events write and send acks, then the culprit, then one more write.
    sendInOneTurn(client, "kv a", "sql 2", culprit, "kv b");
    const outcome = await Promise.race([client.closed.then((code) => `closed ${code}`), client.next().then((m) => `message ${m}`)]);
    expect(outcome).toBe("closed 1011");
    expect(client.received).toEqual(["ack sql 1"]);

    // The caller saw SQLite's error, not the savepoint bookkeeping that broke after it.
    expect(seen[0]).toMatch(sqliteMessage);
    expect(seen.join("\n")).not.toMatch(/savepoint/i);
    // The failed commit was logged with SQLite's error in it.
    const failure = logger.errors.find((e) => e.message.startsWith("Storage commit failed"));
    expect(failure).toBeDefined();
    expect(String((failure!.error as Error).message)).toMatch(sqliteMessage);

    expect(await readState(url)).toEqual({ kv: [], rows: [1] });
    await runtime.close();
    ({ runtime, url } = await start(dir));
    onTestFinished(() => runtime.close());
    expect(await readState(url)).toEqual({ kv: [], rows: [1] });
  });
});

/** Resolved by the "release" step of a transaction, to resume the event that waits on it. */
let resume: (() => void) | null = null;

class Ledger2 extends DurableObject {
  override async fetch(): Promise<Response> {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const storage = this.ctx.storage;
    if (message === "slow") {
      // Waits on something that is not storage, so the next event starts meanwhile.
      await new Promise<void>((resolve) => (resume = resolve));
      storage.kv.put("slow", 1);
      ws.send("ack slow");
    } else if (message === "txn") {
      await storage.transaction(async (txn) => {
        await txn.put("txn", 1);
        resume!();
        // Across a turn boundary, so the end-of-turn commit finds the transaction still open.
        await new Promise((resolve) => setImmediate(resolve));
        txn.rollback();
      });
      ws.send("txn rolled back");
    } else if (message === "read") {
      ws.send(JSON.stringify([...storage.kv.list()].map(([k]) => k)));
    }
  }
}

describe("an async transaction() that rolls back", () => {
  test("never takes back another event's acknowledged write: that write is never acknowledged, and the object is reset", async () => {
    const dir = tempDir();
    const logger = recording();
    const runtime = new Runtime({ objects: { L: Ledger2 }, storage: sqliteStorage({ dir }), logger });
    onTestFinished(() => runtime.close());
    const { url: base } = await runtime.listen({ port: 0 });
    const url = `${base.replace("http", "ws")}/L/room`;
    const client = await connect(url);
    client.ws.send("slow");
    client.ws.send("txn");
    const outcome = await Promise.race([client.closed.then((code) => `closed ${code}`), client.next().then((m) => `message ${m}`)]);
    expect(outcome).toBe("closed 1011");
    expect(client.received).toEqual([]);
    expect(logger.errors.map((e) => e.message)).toContain("Storage commit failed; resetting the object");
    const reader = await connect(url);
    reader.ws.send("read");
    expect(await reader.next()).toBe("[]");
  });
});
