import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, onTestFinished, test, vi } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, WebSocketPair, type Logger, type WebSocket } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";
import { injectFsyncFault } from "../src/wal-sync.ts";

/**
 * An event that is still running when its object is reset (its batch
 * failed) belongs to an incarnation that no longer exists: it must report
 * no success and send nothing. And the next incarnation's output must not
 * wait forever behind the dead one's batches. Faults are injected in the
 * provider's fsync path (wal-sync.ts): a failed fsync fails instead of
 * running, a slow one runs when the test says.
 */

/** A promise each handler awaits between its write and its reply (non-storage I/O, as a fetch would be). */
let hold: { promise: Promise<void>; release: () => void } = released();
function released() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

let alarmRuns = 0;
let failNextFsync = false;

class Saver extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  async save(value: string): Promise<string> {
    await this.ctx.storage.put("w", value);
    await hold.promise;
    return "saved";
  }
  async write(n: number): Promise<number> {
    this.ctx.storage.put("n", n);
    return n;
  }
  abort(): void {
    this.ctx.abort("test reset");
  }
  async armAlarm(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now());
  }
  override async alarm(): Promise<void> {
    alarmRuns++;
    if (alarmRuns === 1) failNextFsync = true;
    await this.ctx.storage.put("alarm", alarmRuns);
    await hold.promise;
  }
  async read(key: string): Promise<unknown> {
    return (await this.ctx.storage.get(key)) ?? null;
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (message === "write") {
      await this.ctx.storage.put("w", 1);
      await hold.promise;
      // Code of the old instance, resumed after the reset: whatever it sends must be dropped.
      for (const socket of this.ctx.getWebSockets()) socket.send("late");
      ws.send("ack");
    } else {
      ws.send("pong");
    }
  }
}

function quietLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, debug() {}, info() {}, warn() {}, error: (m) => void errors.push(m) };
}

const dirs: string[] = [];
afterEach(() => {
  injectFsyncFault(null);
  hold.release();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start() {
  const dir = mkdtempSync(join(tmpdir(), "torpor-incarnations-"));
  dirs.push(dir);
  const logger = quietLogger();
  const runtime = new Runtime({ objects: { S: Saver }, storage: sqliteStorage({ dir }), logger, alarmRetry: { initialBackoffMs: 20, jitter: 0 } });
  const { url } = await runtime.listen({ port: 0 });
  onTestFinished(() => runtime.close());
  return { runtime, logger, wsUrl: url.replace("http", "ws") };
}

/** Every fsync of a WAL fails with EIO, as a failing disk would make it. */
function failEveryFsync(): { attempts: number } {
  const seen = { attempts: 0 };
  injectFsyncFault(() => {
    seen.attempts++;
    return Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", errno: -5, syscall: "fsync" }));
  });
  return seen;
}

async function connect(url: string) {
  const ws = new WsClient(url);
  const messages: string[] = [];
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  ws.on("message", (m) => messages.push(String(m)));
  ws.on("error", () => {});
  onTestFinished(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, messages, closed };
}

describe("an event of an incarnation that was reset", () => {
  test("an RPC call that wrote, then awaited other I/O while its batch failed, is not reported as a success", async () => {
    const { runtime, logger } = await start();
    const stub = runtime.namespace<Saver>("S").getByName("a");
    hold = released();
    const fsyncs = failEveryFsync();
    const call = stub.save("x");
    const settled = call.then(
      (value) => ({ value }),
      (error: { code?: string }) => ({ code: error.code }),
    );
    // The write's batch was committed and its fsync failed: the object is reset while save() still awaits.
    await vi.waitFor(() => expect(logger.errors).toContain("Storage commit failed; resetting the object"));
    expect(fsyncs.attempts).toBe(1);
    hold.release();
    expect(await settled).toEqual({ code: "ERR_STORAGE_COMMIT_FAILED" });
  });

  test("a call that returned before the reset, its result held for the batch the reset rolled back, fails too", async () => {
    const { runtime } = await start();
    const stub = runtime.namespace<Saver>("S").getByName("d");
    // Both in one turn: write(2)'s put is in the open batch when abort() resets the object.
    const two = stub.write(2);
    const aborted = stub.abort();
    await expect(aborted).rejects.toMatchObject({ code: "ERR_OBJECT_RESET" });
    await expect(two).rejects.toMatchObject({ code: "ERR_OBJECT_RESET" });
    expect(await stub.read("n")).toBeNull();
  });

  test("an alarm() whose batch failed while it awaited other I/O runs again (it is not counted as done)", async () => {
    const { runtime, logger } = await start();
    const stub = runtime.namespace<Saver>("S").getByName("e");
    hold = released();
    alarmRuns = 0;
    injectFsyncFault(() => {
      if (!failNextFsync) return Promise.resolve();
      failNextFsync = false;
      return Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" }));
    });
    await stub.armAlarm();
    await vi.waitFor(() => expect(logger.errors).toContain("Storage commit failed; resetting the object"));
    expect(alarmRuns).toBe(1);
    hold.release();
    await vi.waitFor(() => expect(alarmRuns).toBe(2), { timeout: 5_000 });
    await vi.waitFor(async () => expect(await stub.read("alarm")).toBe(2));
  });

  test("what its code sends after the reset is dropped, also on sockets of the next instance", async () => {
    const { wsUrl } = await start();
    hold = released();
    failEveryFsync();
    const first = await connect(`${wsUrl}/S/b`);
    first.ws.send("write");
    expect(await first.closed).toBe(1011);
    injectFsyncFault(null);
    const second = await connect(`${wsUrl}/S/b`);
    hold.release();
    // The old handler resumed at once; a frame it sent would arrive before the reply to this ping.
    second.ws.send("ping");
    await vi.waitFor(() => expect(second.messages.length).toBeGreaterThan(0));
    expect(second.messages[0]).toBe("pong");
    expect(first.messages).toEqual([]);
  });
});

describe("the output gate across incarnations", () => {
  test("the next instance's batch that is durable before the reset instance's last one is released after it (no wedge)", async () => {
    const { runtime } = await start();
    const stub = runtime.namespace<Saver>("S").getByName("c");
    const slow = released();
    const calls: string[] = [];
    let firstRunning: () => void = () => {};
    const firstStarted = new Promise<void>((resolve) => (firstRunning = resolve));
    let secondRunning: () => void = () => {};
    const secondStarted = new Promise<void>((resolve) => (secondRunning = resolve));
    // Fsync rounds in order: the reset instance's batch waits until the test lets it go; the next
    // instance's first round runs at once; its second round starts only once the first is done
    // (one round per WAL file at a time), and that is when the slow one is let go.
    injectFsyncFault((wal) => {
      calls.push(wal);
      if (calls.length === 1) {
        firstRunning();
        return slow.promise;
      }
      if (calls.length === 2) secondRunning();
      if (calls.length === 3) slow.release();
      return Promise.resolve();
    });
    const one = stub.write(1);
    await firstStarted; // committed, its fsync on its way
    await expect(stub.abort()).rejects.toMatchObject({ code: "ERR_OBJECT_RESET" });
    // A new instance, a new database handle, its own fsync queue: this batch is durable first.
    const three = stub.write(3);
    await secondStarted;
    const four = stub.write(4);
    const deadline = (p: Promise<number>, what: string) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} still held 5 s after every batch was durable`)), 5_000))]);
    expect(await deadline(one, "write(1)")).toBe(1);
    expect(await deadline(three, "write(3)")).toBe(3);
    expect(await deadline(four, "write(4)")).toBe(4);
    expect(calls).toHaveLength(3);
    expect(await stub.write(5)).toBe(5);
  });
});
