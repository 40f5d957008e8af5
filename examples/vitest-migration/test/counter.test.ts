import { env, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { Counter } from "../src/index.ts";

describe("direct access", () => {
  it("runs code inside the live instance and sees its fields and storage", async () => {
    const stub = env.COUNTER.getByName("direct");
    expect(await (await stub.fetch("https://example.com/?by=5")).json()).toEqual({ count: 5, served: 1 });
    const seen = await runInDurableObject(stub, async (instance: Counter, ctx) => {
      expect(instance).toBeInstanceOf(Counter);
      return { served: instance.served, count: await ctx.storage.get("count") };
    });
    expect(seen).toEqual({ served: 1, count: 5 });
  });

  it("keeps what the callback writes", async () => {
    const stub = env.COUNTER.getByName("direct");
    await runInDurableObject(stub, (_instance: Counter, ctx) => ctx.storage.put("count", 100));
    expect(await (await stub.fetch("https://example.com/")).json()).toEqual({ count: 101, served: 2 });
  });

  it("rejects with what the callback throws", async () => {
    const stub = env.COUNTER.getByName("direct");
    await expect(runInDurableObject(stub, () => Promise.reject(new RangeError("no")))).rejects.toThrow(new RangeError("no"));
  });
});

describe("RPC", () => {
  it("calls methods on the stub", async () => {
    const stub = env.COUNTER.getByName("rpc");
    expect(await stub.increment(2)).toBe(2);
    expect(await stub.increment()).toBe(3);
    expect(await stub.getCount()).toBe(3);
  });
});

describe("ids", () => {
  it("gives the same object for the same name, a new one for a unique id", async () => {
    expect(env.COUNTER.idFromName("same").equals(env.COUNTER.idFromName("same"))).toBe(true);
    const unique = env.COUNTER.newUniqueId();
    expect(env.COUNTER.idFromString(unique.toString()).equals(unique)).toBe(true);
    await env.COUNTER.getByName("same").increment();
    expect(await env.COUNTER.get(env.COUNTER.idFromName("same")).getCount()).toBe(1);
    expect(await env.COUNTER.get(unique).getCount()).toBe(0);
  });

  it("lists the objects that ran, sorted", async () => {
    env.COUNTER.getByName("never-called");
    const ids = (await listDurableObjectIds(env.COUNTER)).map(String);
    for (const name of ["direct", "rpc", "same"]) expect(ids).toContain(env.COUNTER.idFromName(name).toString());
    expect(ids).not.toContain(env.COUNTER.idFromName("never-called").toString());
    expect(ids).toEqual([...ids].sort());
  });
});

describe("eviction", () => {
  it("drops fields and keeps storage", async () => {
    const stub = env.COUNTER.getByName("evicted");
    await (await stub.fetch("https://example.com/")).json();
    expect(await (await stub.fetch("https://example.com/")).json()).toEqual({ count: 2, served: 2 });
    // Read every body first: on workerd, eviction waits for responses still streaming.
    await evictDurableObject(stub);
    expect(await (await stub.fetch("https://example.com/")).json()).toEqual({ count: 3, served: 1 });
  });

  it("refuses an object that is not running", async () => {
    const stub = env.COUNTER.getByName("evicted-twice");
    await stub.increment();
    await evictDurableObject(stub);
    await expect(evictDurableObject(stub)).rejects.toThrow("Cannot evict Durable Object: it is not currently running.");
  });
});

describe("alarms", () => {
  it("runs a pending alarm now, and says when there is none", async () => {
    const stub = env.COUNTER.getByName("alarm");
    await stub.increment(7);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    await stub.scheduleReset(60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.getCount()).toBe(0);
    // Called as a test helper, alarm() gets no invocation info.
    expect(await stub.alarmRuns()).toEqual([{ retryCount: -1, isRetry: false }]);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });

  it("rejects when alarm() throws, and does not retry it", async () => {
    const stub = env.COUNTER.getByName("alarm-throws");
    await stub.scheduleReset(60_000, 1);
    await expect(runDurableObjectAlarm(stub)).rejects.toThrow("alarm failed (1 to go)");
    expect(await runInDurableObject(stub, (_instance: Counter, ctx) => ctx.storage.getAlarm())).toBeNull();
    expect(await stub.alarmRuns()).toHaveLength(1);
  });

  it("retries an alarm that came due and threw", async () => {
    const stub = env.COUNTER.getByName("alarm-due");
    await stub.increment(3);
    await stub.scheduleReset(10, 1);
    // The runtime retries 2 s after the failure.
    await vi.waitFor(async () => expect(await stub.alarmRuns()).toHaveLength(2), { timeout: 10_000, interval: 50 });
    expect(await stub.alarmRuns()).toEqual([
      { retryCount: 0, isRetry: false },
      { retryCount: 1, isRetry: true },
    ]);
    expect(await stub.getCount()).toBe(0);
  });
});

describe("SQL", () => {
  it("stores rows through RPC and reads them inside the object", async () => {
    const stub = env.COUNTER.getByName("sql");
    expect(await stub.addNote("first")).toBe(1);
    expect(await stub.addNote("second")).toBe(2);
    expect(await stub.notes()).toEqual(["first", "second"]);
    const rows = await runInDurableObject(stub, (_instance: Counter, ctx) => ctx.storage.sql.exec("SELECT count(*) AS n FROM notes").one());
    expect(rows).toEqual({ n: 2 });
  });

  it("counts rowsWritten as b-tree writes: a row plus each index entry, and AUTOINCREMENT's sqlite_sequence row", async () => {
    const stub = env.COUNTER.getByName("rows-written");
    const written = await runInDurableObject(stub, (_instance: Counter, ctx) => {
      const sql = ctx.storage.sql;
      sql.exec("CREATE TABLE tagged (id INTEGER PRIMARY KEY, tag TEXT, note TEXT)");
      sql.exec("CREATE INDEX tagged_tag ON tagged (tag)");
      sql.exec("CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)");
      return {
        twoRowsOneIndex: sql.exec("INSERT INTO tagged (tag) VALUES ('a'), ('b')").rowsWritten,
        unindexedUpdate: sql.exec("UPDATE tagged SET note = 'n' WHERE id = 1").rowsWritten,
        indexedUpdate: sql.exec("UPDATE tagged SET tag = 'c' WHERE id = 1").rowsWritten,
        threeAutoincrement: sql.exec("INSERT INTO seq (v) VALUES ('x'), ('y'), ('z')").rowsWritten,
        oneMoreAutoincrement: sql.exec("INSERT INTO seq (v) VALUES ('w')").rowsWritten,
      };
    });
    expect(written).toEqual({ twoRowsOneIndex: 4, unindexedUpdate: 1, indexedUpdate: 2, threeAutoincrement: 4, oneMoreAutoincrement: 2 });
  });

  it("keeps rows through eviction", async () => {
    const stub = env.COUNTER.getByName("sql");
    await evictDurableObject(stub);
    expect(await stub.notes()).toEqual(["first", "second"]);
  });
});
