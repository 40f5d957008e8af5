import { existsSync, readdirSync } from "node:fs";
import { Runtime, VirtualClock, memoryStorage, systemClock } from "@torpor/core";
import { describe, expect, test } from "vitest";
import { createTestRuntime, recordingLogger, type TestRuntime } from "../src/index.ts";
import { objects } from "./fixtures.ts";

describe("createTestRuntime", () => {
  let previous: { dir: string; t: TestRuntime<typeof objects> } | null = null;

  test("gives a runtime with typed env, SQLite storage in a fresh temp dir, a virtual clock and a recording logger", async () => {
    const t = createTestRuntime({ objects });
    expect(t.runtime).toBeInstanceOf(Runtime);
    expect(t.clock).toBeInstanceOf(VirtualClock);
    expect(t.storageDir).not.toBeNull();
    expect(existsSync(t.storageDir!)).toBe(true);
    const stub = t.env.COUNTER.getByName("a");
    expect(await stub.increment(2)).toBe(2);
    expect(readdirSync(t.storageDir!, { recursive: true }).some((f) => String(f).endsWith(".sqlite"))).toBe(true);
    expect(t.url).toBeUndefined(); // no TCP needed, no port opened
    previous = { dir: t.storageDir!, t };
  });

  test("the previous test's runtime was closed and its temp dir removed when it finished", () => {
    expect(previous).not.toBeNull();
    expect(existsSync(previous!.dir)).toBe(false);
    expect(previous!.t.runtime.closed).toBe(true);
  });

  test("two runtimes in one test have separate storage", async () => {
    const a = createTestRuntime({ objects });
    const b = createTestRuntime({ objects });
    expect(a.storageDir).not.toBe(b.storageDir);
    await a.env.COUNTER.getByName("same").increment(5);
    expect(await b.env.COUNTER.getByName("same").increment(1)).toBe(1);
  });

  test('storage: "memory" uses memoryStorage and no temp dir; data survives eviction', async () => {
    const t = createTestRuntime({ objects, storage: "memory" });
    expect(t.storageDir).toBeNull();
    const stub = t.env.COUNTER.getByName("m");
    await stub.increment();
    await t.evictDurableObject(stub);
    expect(await stub.increment()).toBe(2);
  });

  test("a storage provider of your own is used as given", async () => {
    const provider = memoryStorage();
    const t = createTestRuntime({ objects, storage: provider });
    expect(t.runtime.provider).toBe(provider);
  });

  test("explicit close() (or await using) cleans up at once, and is idempotent", async () => {
    let dir: string;
    {
      await using t = createTestRuntime({ objects, context: null });
      dir = t.storageDir!;
      await t.env.COUNTER.getByName("x").increment();
    }
    expect(existsSync(dir)).toBe(false);
    const t = createTestRuntime({ objects });
    await t.close();
    await t.close();
    expect(existsSync(t.storageDir!)).toBe(false);
  });

  test('clock: "real" uses the system clock', () => {
    const t = createTestRuntime({ objects, clock: "real" });
    expect(t.clock).toBe(systemClock);
  });

  test("a custom clock is exposed typed as given", () => {
    const clock = new VirtualClock(0);
    const t = createTestRuntime({ objects, clock });
    expect(t.clock.now()).toBe(0);
  });

  test("handler errors go to t.logs, not the console", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("alarm");
    await stub.scheduleAlarm(t.clock.now() + 1_000, 1);
    await t.clock.advance(1_000);
    expect(t.logs).toContainEqual(expect.objectContaining({ level: "error", message: "Uncaught error in alarm()" }));
  });

  test("your logger replaces the recording one", async () => {
    const logger = recordingLogger();
    const t = createTestRuntime({ objects, logger });
    await t.env.COUNTER.getByName("l").scheduleAlarm(t.clock.now(), 1);
    await t.runDurableObjectAlarm(t.env.COUNTER.getByName("l"));
    expect(logger.entries.map((e) => e.message)).toContain("Uncaught error in alarm()");
    expect(t.logs).toEqual([]);
  });

  test("runtime options pass through, and bad ones fail with the runtime's precise error", () => {
    const t = createTestRuntime({ objects, hibernateAfterMs: 5, env: { GREETING: "hi" } });
    expect(t.runtime.options.hibernateAfterMs).toBe(5);
    expect(t.env.GREETING).toBe("hi");
    expect(() => createTestRuntime({ objects, hibernateAfterMs: -1 })).toThrow(/hibernateAfterMs/);
  });

  test("alarm retries have no jitter unless asked for", () => {
    expect(createTestRuntime({ objects }).runtime.options.alarmRetry.jitter).toBe(0);
    expect(createTestRuntime({ objects, alarmRetry: { jitter: 0.5 } }).runtime.options.alarmRetry).toMatchObject({ jitter: 0.5, maxRetries: 6 });
  });

  test("listen() opens port 0 once and sets url", async () => {
    const t = createTestRuntime({ objects });
    const first = await t.listen();
    expect(first.port).toBeGreaterThan(0);
    expect(await t.listen()).toEqual(first);
    expect(t.url).toBe(first.url);
    const response = await fetch(`${t.url}/nothing`);
    expect(response.status).toBe(404);
  });

  test("a Worker fetch gets requests, in process and over TCP", async () => {
    const t = createTestRuntime({
      objects,
      fetch: async (request, env) => {
        const count = await env.COUNTER.getByName("w").increment();
        return new Response(`${new URL(request.url).pathname} ${count}`);
      },
    });
    expect(await (await t.runtime.fetch("http://x/a")).text()).toBe("/a 1");
    await t.listen();
    expect(await (await fetch(`${t.url}/b`)).text()).toBe("/b 2");
  });
});
