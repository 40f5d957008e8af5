import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished, describe, expect, test, vi } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, VirtualClock, WebSocketPair, type Logger, type WebSocket } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";

/** The runtime on real SQLite files: what the storage promises once core drives it. */

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-runtime-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function logger(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  return { errors, debug() {}, info() {}, warn() {}, error: (_m, f) => void errors.push(f?.error) };
}

const alarmLog: Array<{ name: string | undefined; retryCount: number; isRetry: boolean; at: number }> = [];
let failuresLeft = 0;

class Scheduler extends DurableObject {
  async schedule(at: number) {
    await this.ctx.storage.setAlarm(at);
    return this.ctx.storage.getAlarm();
  }
  async pending() {
    return this.ctx.storage.getAlarm();
  }
  async write(key: string, value: unknown) {
    await this.ctx.storage.put(key, value);
  }
  async read(key: string) {
    return this.ctx.storage.get(key);
  }
  async batch(n: number) {
    for (let i = 0; i < n; i++) this.ctx.storage.put(`k${i}`, i);
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (v)");
    this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", n);
    return n;
  }
  override async alarm(info?: { retryCount: number; isRetry: boolean }) {
    alarmLog.push({ name: this.ctx.id.name, retryCount: info!.retryCount, isRetry: info!.isRetry, at: clockNow() });
    if (failuresLeft > 0) {
      failuresLeft--;
      throw new Error("alarm failed on purpose");
    }
  }
}

let clockNow = () => 0;

function runtimeOn(dir: string, clock: VirtualClock, log = logger()) {
  clockNow = () => clock.now();
  const runtime = new Runtime({
    objects: { S: Scheduler },
    storage: sqliteStorage({ dir }),
    clock,
    logger: log,
    alarmRetry: { jitter: 0 },
  });
  onTestFinished(() => runtime.close());
  return { runtime, ns: runtime.namespace<Scheduler>("S"), log };
}

describe("alarms on the runtime", () => {
  test("an alarm fires at its time, once, and is cleared after success", async () => {
    const clock = new VirtualClock();
    const { ns } = runtimeOn(tempDir(), clock);
    alarmLog.length = 0;
    const stub = ns.getByName("a");
    expect(await stub.schedule(clock.now() + 5_000)).toBe(clock.now() + 5_000);
    await clock.advance(4_999);
    expect(alarmLog).toHaveLength(0);
    await clock.advance(1);
    expect(alarmLog).toEqual([{ name: "a", retryCount: 0, isRetry: false, at: clock.now() }]);
    expect(await stub.pending()).toBeNull();
  });

  test("a throwing alarm is retried with exponential backoff from 2 s, with retryCount", async () => {
    const clock = new VirtualClock();
    const { ns, log } = runtimeOn(tempDir(), clock);
    alarmLog.length = 0;
    failuresLeft = 2;
    const start = clock.now();
    await ns.getByName("r").schedule(start + 1_000);
    await clock.advance(1_000 + 2_000 + 4_000);
    expect(alarmLog.map((a) => [a.retryCount, a.isRetry, a.at - start])).toEqual([
      [0, false, 1_000],
      [1, true, 3_000],
      [2, true, 7_000],
    ]);
    expect(log.errors).toHaveLength(2);
    expect(await ns.getByName("r").pending()).toBeNull();
  });

  test("an alarm gives up after 6 retries", async () => {
    const clock = new VirtualClock();
    const { ns } = runtimeOn(tempDir(), clock);
    alarmLog.length = 0;
    failuresLeft = 100;
    await ns.getByName("g").schedule(clock.now());
    await clock.advance(2_000 * (1 + 2 + 4 + 8 + 16 + 32) + 1);
    expect(alarmLog.map((a) => a.retryCount)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await clock.advance(1_000_000);
    expect(alarmLog).toHaveLength(7);
    failuresLeft = 0;
    expect(await ns.getByName("g").pending()).toBeNull();
  });

  test("a persisted alarm fires after a process restart, without opening other objects", async () => {
    const dir = tempDir();
    const clock = new VirtualClock();
    const first = runtimeOn(dir, clock);
    alarmLog.length = 0;
    await first.ns.getByName("later").schedule(clock.now() + 60_000);
    for (let i = 0; i < 5; i++) await first.ns.getByName(`bystander-${i}`).write("x", i);
    await first.runtime.close();

    const second = runtimeOn(dir, clock);
    const provider = second.runtime.provider as ReturnType<typeof sqliteStorage>;
    expect(provider.openDatabaseCount).toBe(0);
    await clock.advance(60_000);
    expect(alarmLog).toEqual([{ name: "later", retryCount: 0, isRetry: false, at: clock.now() }]);
    // Only the object whose alarm fired was opened.
    expect(
      second.runtime
        .objects()
        .filter((o) => o.counters.constructed > 0)
        .map((o) => o.name),
    ).toEqual(["later"]);
  });
});

describe("storage across hibernation and restarts", () => {
  test("data survives hibernation (file closed) and restart; handles are released", async () => {
    const dir = tempDir();
    const clock = new VirtualClock();
    const first = runtimeOn(dir, clock);
    const stub = first.ns.getByName("keep");
    await stub.write("profile", { name: "Ada", joined: new Date(0), tags: new Set(["x"]) });
    await first.runtime.hibernate(stub);
    expect(first.runtime.inspect(stub).state).toBe("hibernated");
    expect(await stub.read("profile")).toEqual({ name: "Ada", joined: new Date(0), tags: new Set(["x"]) });
    expect(first.runtime.inspect(stub).counters.woken).toBe(1);
    await first.runtime.close();
    const second = runtimeOn(dir, clock);
    expect(await second.ns.getByName("keep").read("profile")).toEqual({ name: "Ada", joined: new Date(0), tags: new Set(["x"]) });
  });

  test("writes made in one turn are committed together, once", async () => {
    const clock = new VirtualClock();
    const { runtime, ns } = runtimeOn(tempDir(), clock);
    const stub = ns.getByName("coalesce");
    await stub.write("warm", 1);
    const before = runtime.metrics.commits;
    await stub.batch(50);
    expect(runtime.metrics.commits - before).toBe(1);
  });
});

describe("output gate on a real commit failure", () => {
  test("a message sent after a write that fails to commit is never sent; the object resets and recovers", async () => {
    class Fragile extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
      }
      override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
        const sql = this.ctx.storage.sql;
        if (message === "bad") {
          sql.exec("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)");
          sql.exec("CREATE TABLE IF NOT EXISTS child (pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)");
          // Passes now, fails at COMMIT: a real failure of the batch's commit.
          sql.exec("INSERT INTO child VALUES (1)");
          ws.send("you must never see this");
        } else {
          ws.send(`tables: ${sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('parent', 'child')").one().n}`);
        }
      }
    }
    const log = logger();
    const runtime = new Runtime({ objects: { F: Fragile }, storage: sqliteStorage({ dir: tempDir() }), logger: log });
    onTestFinished(() => runtime.close());
    const { url } = await runtime.listen({ port: 0 });
    const received: string[] = [];
    const client = new WsClient(`${url.replace("http", "ws")}/F/x`);
    client.on("message", (d) => received.push(d.toString()));
    await new Promise((r) => client.once("open", r));
    client.send("bad");
    const closed = await new Promise<number>((r) => client.once("close", (code) => r(code)));
    expect(closed).toBe(1011);
    expect(received).toEqual([]);
    expect(runtime.metrics.commitFailures).toBe(1);
    expect((log.errors[0] as { code: string }).code).toBe("ERR_STORAGE_COMMIT_FAILED");
    // The batch was rolled back entirely (even the CREATE TABLEs), and the object works again.
    const again = new WsClient(`${url.replace("http", "ws")}/F/x`);
    await new Promise((r) => again.once("open", r));
    again.send("check");
    expect(await new Promise((r) => again.once("message", (d) => r(d.toString())))).toBe("tables: 0");
    again.close();
    await vi.waitFor(() => expect(runtime.inspect(runtime.namespace("F").getByName("x")).sockets).toBe(0));
  });
});
