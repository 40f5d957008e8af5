import { DurableObjectState } from "@torpor/core";
import { describe, expect, test } from "vitest";
import {
  EVICT_CLOSE_CODE,
  createTestRuntime,
  evictDurableObject,
  hibernationBlockers,
  lifecycle,
  listDurableObjectIds,
  runDurableObjectAlarm,
  runInDurableObject,
  type Transport,
} from "../src/index.ts";
import { Counter, objects } from "./fixtures.ts";

describe("runInDurableObject", () => {
  test("runs inside the object with the instance and its ctx, through the gate", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("in");
    await stub.increment();
    const seen = await runInDurableObject(stub, async (counter, ctx) => {
      expect(counter).toBeInstanceOf(Counter);
      expect(ctx).toBeInstanceOf(DurableObjectState);
      await ctx.storage.put("count", 41);
      return { warm: counter.warm, id: ctx.id.name };
    });
    expect(seen).toEqual({ warm: 1, id: "in" });
    expect(await stub.increment()).toBe(42); // the write was committed before the result came back
  });

  test("constructs the object if needed, and waits for events ahead of it", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("order");
    const first = stub.increment();
    const warm = await t.runInDurableObject(stub, (counter) => counter.warm);
    expect(warm).toBe(1);
    await first;
    expect(t.lifecycle(stub)).toMatchObject({ state: "live", constructed: 1 });
  });

  test("a throw inside rejects the call and the object stays usable", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("throw");
    await expect(runInDurableObject(stub, () => Promise.reject(new Error("inside")))).rejects.toThrow("inside");
    expect(await stub.increment()).toBe(1);
  });

  test("the bound verb also takes an id", async () => {
    const t = createTestRuntime({ objects });
    const id = t.env.COUNTER.idFromName("by-id");
    await t.env.COUNTER.get(id).increment(3);
    expect(await t.runInDurableObject(id, (_instance, ctx) => ctx.storage.get("count"))).toBe(3);
  });
});

describe("runDurableObjectAlarm", () => {
  test("returns false when no alarm is set", async () => {
    const t = createTestRuntime({ objects });
    expect(await runDurableObjectAlarm(t.env.COUNTER.getByName("none"))).toBe(false);
  });

  test("fires a future alarm now, once", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("future");
    await stub.scheduleAlarm(t.clock.now() + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.alarmRuns()).toEqual([{ retryCount: 0, isRetry: false }]);
    expect(await t.runInDurableObject(stub, (_c, ctx) => ctx.storage.getAlarm())).toBeNull();
    expect(await t.runDurableObjectAlarm(stub)).toBe(false);
    await t.clock.advance(60_000); // the timer of the alarm that ran does not fire it again
    expect(await stub.alarmRuns()).toHaveLength(1);
  });

  test("an alarm object code sets from Date.now() fires when the virtual clock gets there", async () => {
    // The virtual clock starts at the real time, so Date.now()-based alarms line up with it;
    // the margin covers the real milliseconds that pass while the test runs.
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("date-now");
    await stub.scheduleAlarmIn(60_000);
    await t.clock.advance(59_000);
    expect(await stub.alarmRuns()).toEqual([]);
    await t.clock.advance(2_000);
    expect(await stub.alarmRuns()).toEqual([{ retryCount: 0, isRetry: false }]);
  });

  test("a throwing alarm is retried with retryCount and exponential backoff on the virtual clock", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("retry");
    const start = t.clock.now();
    await stub.scheduleAlarm(start, 2);
    expect(await runDurableObjectAlarm(stub)).toBe(true); // it ran (and threw)
    expect(t.logs.filter((e) => e.level === "error")).toHaveLength(1);
    expect(t.clock.nextTimerAt()).toBe(start + 2_000);
    await t.clock.advance(1_999);
    expect(await stub.alarmRuns()).toHaveLength(1);
    await t.clock.advance(1);
    expect(await stub.alarmRuns()).toHaveLength(2);
    expect(t.clock.nextTimerAt()).toBe(start + 2_000 + 4_000);
    await t.clock.advance(4_000);
    expect(await stub.alarmRuns()).toEqual([
      { retryCount: 0, isRetry: false },
      { retryCount: 1, isRetry: true },
      { retryCount: 2, isRetry: true },
    ]);
    expect(await t.runInDurableObject(stub, (_c, ctx) => ctx.storage.getAlarm())).toBeNull();
  });

  test("a throwing alarm forced before its time is retried after the backoff, not at its original time", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("retry-future");
    await stub.scheduleAlarm(t.clock.now() + 60_000, 1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await t.clock.advance(2_000);
    expect(await stub.alarmRuns()).toHaveLength(2);
  });

  test("wakes a hibernated object to run its alarm", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("sleepy");
    await stub.scheduleAlarm(t.clock.now() + 1_000);
    await t.evictDurableObject(stub);
    expect(await t.runDurableObjectAlarm(stub)).toBe(true);
    expect(t.lifecycle(stub)).toMatchObject({ state: "live", woken: 1 });
  });
});

describe.each<Transport>(["tcp", "memory"])("evictDurableObject over %s", (transport) => {
  test('webSockets: "hibernate" (default) keeps sockets open; the next message wakes a new instance', async () => {
    const t = createTestRuntime({ objects, transport });
    const stub = t.env.ROOM.getByName("h");
    const a = await t.connect(stub, "/?name=ann");
    const b = await t.connect(stub, "/?name=bob");
    await evictDurableObject(stub);
    expect(lifecycle(stub)).toMatchObject({ state: "hibernated", sockets: 2, constructed: 1, evicted: 1 });
    a.send("count");
    expect(await a.next()).toBe("2");
    b.send("whoami");
    expect(await b.nextJson()).toMatchObject({ name: "bob" });
    expect(lifecycle(stub)).toMatchObject({ state: "live", constructed: 2, woken: 1 });
  });

  test('webSockets: "close" closes sockets with 1001, without waking the object for webSocketClose', async () => {
    const t = createTestRuntime({ objects, transport });
    const stub = t.env.ROOM.getByName("c");
    const a = await t.connect(stub);
    await t.evictDurableObject(stub, { webSockets: "close" });
    expect(await a.closed).toEqual({ code: EVICT_CLOSE_CODE, reason: "Durable Object evicted", wasClean: true });
    expect(t.lifecycle(stub)).toMatchObject({ state: "hibernated", sockets: 0, constructed: 1 });
    const b = await t.connect(stub);
    b.send("count");
    expect(await b.next()).toBe("1");
    expect(await t.runInDurableObject(stub, (room) => room.closes)).toEqual([]);
  });

  test("a socket accepted with ws.accept() pins the object: eviction throws with the reason", async () => {
    const t = createTestRuntime({ objects, transport });
    const stub = t.env.ROOM.getByName("std");
    const ws = await t.connect(stub, "/?standard");
    ws.send("x");
    expect(await ws.next()).toBe("std:x");
    await expect(t.evictDurableObject(stub)).rejects.toMatchObject({ code: "ERR_NOT_HIBERNATABLE", message: expect.stringContaining("ws.accept()") });
    expect(hibernationBlockers(stub)).toEqual([expect.stringContaining("ctx.acceptWebSocket()")]);
    // "close" tears the object down: its standard sockets are closed too, and it evicts.
    await t.evictDurableObject(stub, { webSockets: "close" });
    expect(await ws.closed).toMatchObject({ code: EVICT_CLOSE_CODE });
    expect(t.lifecycle(stub).state).toBe("hibernated");
  });
});

describe("evictDurableObject", () => {
  test("waits for an event in flight, commits its writes, then evicts: no timers, no waiting", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("busy");
    const pending = stub.increment(7);
    await t.evictDurableObject(stub);
    expect(await pending).toBe(7);
    expect(t.lifecycle(stub).state).toBe("hibernated");
    expect(await stub.increment()).toBe(8);
    expect(await t.runInDurableObject(stub, (c) => c.warm)).toBe(1); // a fresh instance
  });

  test("evicting a hibernated object is a no-op; a bad option is refused", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("twice");
    await stub.increment();
    await t.evictDurableObject(stub);
    await t.evictDurableObject(stub);
    expect(t.lifecycle(stub).evicted).toBe(1);
    await expect(t.evictDurableObject(stub, { webSockets: "drop" as "close" })).rejects.toMatchObject({ code: "ERR_INVALID_OPTIONS" });
  });

  test("a pending waitUntil pins the object until it settles", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.PINNED.getByName("p");
    await stub.hold();
    expect(t.hibernationBlockers(stub)).toEqual(["1 waitUntil() promise(s) pending"]);
    await expect(t.evictDurableObject(stub)).rejects.toThrow("waitUntil");
    await stub.unhold();
    await vi_waitFor(() => t.hibernationBlockers(stub).length === 0);
    await t.evictDurableObject(stub);
    expect(t.lifecycle(stub).state).toBe("hibernated");
  });

  test("evictAllDurableObjects evicts every live object it can and names the rest", async () => {
    const t = createTestRuntime({ objects });
    await t.env.COUNTER.getByName("1").increment();
    await t.env.COUNTER.getByName("2").increment();
    await t.connect(t.env.ROOM.getByName("3"));
    expect(await t.evictAllDurableObjects()).toBe(3);
    expect(t.runtime.objects({ all: true }).map((o) => o.state)).toEqual(["hibernated", "hibernated", "hibernated"]);
    expect(await t.evictAllDurableObjects()).toBe(0);

    await t.env.COUNTER.getByName("1").increment();
    const pinned = t.env.PINNED.getByName("p");
    await pinned.hold();
    await expect(t.evictAllDurableObjects()).rejects.toThrow(/1 object\(s\) could not be evicted \(1 were\).*"p" cannot be evicted: 1 waitUntil/);
    await pinned.unhold();
  });

  test('evictAllDurableObjects({ webSockets: "close" }) also closes sockets of hibernated objects', async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.ROOM.getByName("hib");
    const ws = await t.connect(stub);
    await t.evictDurableObject(stub);
    expect(await t.evictAllDurableObjects({ webSockets: "close" })).toBe(0);
    expect((await ws.closed).code).toBe(1001);
    expect(t.lifecycle(stub).sockets).toBe(0);
  });
});

describe("listDurableObjectIds", () => {
  test("lists objects with stored data or running, not those merely addressed", async () => {
    const t = createTestRuntime({ objects });
    expect(await listDurableObjectIds(t.env.COUNTER)).toEqual([]);
    t.env.COUNTER.getByName("addressed-only");
    await t.env.COUNTER.getByName("stored").increment();
    const unique = t.env.COUNTER.newUniqueId();
    await t.env.COUNTER.get(unique).increment();
    await t.connect(t.env.ROOM.getByName("socket-only"));

    const ids = await listDurableObjectIds(t.env.COUNTER);
    expect(ids.map(String).sort()).toEqual([t.env.COUNTER.idFromName("stored").toString(), unique.toString()].sort());
    expect(ids.find((id) => id.equals(t.env.COUNTER.idFromName("stored")))?.name).toBe("stored");
    expect((await t.listDurableObjectIds(t.env.ROOM)).map((id) => id.name)).toEqual(["socket-only"]);
  });

  test("finds stored objects after eviction and in a fresh runtime over the same storage", async () => {
    const t = createTestRuntime({ objects });
    await t.env.COUNTER.getByName("kept").increment();
    await t.evictAllDurableObjects();
    expect((await t.listDurableObjectIds(t.env.COUNTER)).map(String)).toEqual([t.env.COUNTER.idFromName("kept").toString()]);
  });

  test("refuses a namespace of another runtime", async () => {
    const a = createTestRuntime({ objects });
    const b = createTestRuntime({ objects });
    await expect(a.listDurableObjectIds(b.env.COUNTER)).rejects.toMatchObject({ code: "ERR_UNKNOWN_BINDING" });
  });
});

describe("lifecycle and hibernationBlockers", () => {
  test("track construction, eviction and wakes, and idle hibernation on the virtual clock", async () => {
    const t = createTestRuntime({ objects, hibernateAfterMs: 10_000 });
    const stub = t.env.ROOM.getByName("life");
    const ws = await t.connect(stub);
    expect(lifecycle(stub)).toEqual({ state: "live", sockets: 1, constructed: 1, woken: 0, evicted: 0, events: 1, errors: 0 });
    expect(hibernationBlockers(stub)).toEqual([]);
    await t.clock.advance(9_999);
    expect(lifecycle(stub).state).toBe("live");
    await t.clock.advance(1);
    expect(lifecycle(stub)).toMatchObject({ state: "hibernated", evicted: 1 });
    ws.send("count");
    expect(await ws.next()).toBe("1");
    expect(lifecycle(stub)).toMatchObject({ state: "live", constructed: 2, woken: 1, events: 2 });
  });

  test("hibernationBlockers names an event in flight", async () => {
    const t = createTestRuntime({ objects });
    const stub = t.env.COUNTER.getByName("inflight");
    let release!: () => void;
    const running = t.runInDurableObject(stub, () => new Promise<void>((r) => (release = r)));
    await vi_waitFor(() => t.hibernationBlockers(stub).length > 0);
    expect(t.hibernationBlockers(stub)).toEqual(["1 event(s) in flight"]);
    release();
    await running;
    expect(t.hibernationBlockers(stub)).toEqual([]);
  });
});

/** vi.waitFor with a boolean predicate. */
async function vi_waitFor(predicate: () => boolean): Promise<void> {
  const { vi } = await import("vitest");
  await vi.waitFor(() => {
    if (!predicate()) throw new Error("not yet");
  });
}
