/**
 * The storage contract as one vitest suite, run against every storage
 * provider (one suite, many implementations). A tiny driver plays the
 * runtime's part: it commits at the end of the turn in which a batch started,
 * commits on `sync()`, and passes `holdInput` through.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DurableObjectStorage, StorageProvider } from "@torpor/core";
import type { ObjectKey, ObjectStorage, StorageHooks } from "@torpor/core/storage";

/** What a conformance factory returns for one test. */
export interface StorageConformanceSubject {
  provider: StorageProvider;
  cleanup?: () => void | Promise<void>;
  /**
   * Makes the next `commit()` of `storage` fail (provider-specific fault
   * injection). Without it the commit-failure test is skipped.
   */
  failNextCommit?: (storage: ObjectStorage) => void;
}

/** One opened object plus what the driver observed. */
interface Driven {
  storage: ObjectStorage;
  api: DurableObjectStorage;
  key: ObjectKey;
  readonly commits: number;
  readonly batchesStarted: number;
  readonly alarmChanges: number;
  readonly commitErrors: unknown[];
  /** Resolves after the end-of-turn commit ran. */
  endOfTurn(): Promise<void>;
}

/** A deterministic 64-hex id for a test name. */
export function testObjectId(name: string): string {
  return createHash("sha256").update(name).digest("hex");
}

function drive(provider: StorageProvider, key: ObjectKey): Driven {
  let storage: ObjectStorage | undefined;
  let commits = 0;
  let batchesStarted = 0;
  let alarmChanges = 0;
  let scheduled = false;
  const commitErrors: unknown[] = [];
  const commit = () => {
    storage!.commit();
    commits++;
  };
  const hooks: StorageHooks = {
    writeStarted() {
      batchesStarted++;
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        try {
          commit();
        } catch (err) {
          commitErrors.push(err);
        }
      });
    },
    alarmChanged() {
      alarmChanges++;
    },
    flush: async () => commit(),
    holdInput: (p) => p,
  };
  storage = provider.open(key, hooks);
  return {
    storage,
    api: storage.api,
    key,
    get commits() {
      return commits;
    },
    get batchesStarted() {
      return batchesStarted;
    },
    get alarmChanges() {
      return alarmChanges;
    },
    commitErrors,
    endOfTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return undefined;
}

/**
 * Runs the storage contract against a provider.
 * @example
 * describeStorageConformance("memory", () => ({ provider: memoryStorage() }));
 */
export function describeStorageConformance(label: string, makeProvider: () => StorageConformanceSubject): void {
  describe(`storage conformance: ${label}`, () => {
    let subject: StorageConformanceSubject;
    let opened: Driven[] = [];
    let n = 0;
    const open = (name = `object-${n++}`, namespace = "TEST", withName = false): Driven => {
      const key: ObjectKey = { namespace, id: testObjectId(`${namespace}/${name}`), ...(withName ? { name } : {}) };
      const d = drive(subject.provider, key);
      opened.push(d);
      return d;
    };
    const reopen = (d: Driven): Driven => {
      d.storage.close();
      const again = drive(subject.provider, d.key);
      opened.push(again);
      return again;
    };

    beforeEach(() => {
      subject = makeProvider();
      opened = [];
    });
    afterEach(async () => {
      for (const d of opened) d.storage.close();
      subject.provider.close();
      await subject.cleanup?.();
      for (const d of opened) expect(d.commitErrors).toEqual([]);
    });

    describe("KV", () => {
      it("gets, puts and deletes single keys", async () => {
        const { api } = open();
        expect(await api.get("a")).toBeUndefined();
        await api.put("a", { n: 1 });
        expect(await api.get("a")).toEqual({ n: 1 });
        expect(await api.delete("a")).toBe(true);
        expect(await api.delete("a")).toBe(false);
        expect(await api.get("a")).toBeUndefined();
      });

      it("gets, puts and deletes arrays of keys", async () => {
        const { api } = open();
        await api.put({ b: 2, a: 1, c: 3 });
        const got = await api.get(["c", "missing", "a"]);
        expect(got).toBeInstanceOf(Map);
        expect([...got.entries()].sort()).toEqual([
          ["a", 1],
          ["c", 3],
        ]);
        expect(await api.delete(["a", "b", "missing"])).toBe(2);
        expect([...(await api.list()).keys()]).toEqual(["c"]);
        // A key named twice is deleted once and counted once (Cloudflare counts keys actually deleted).
        expect(await api.delete(["c", "c"])).toBe(1);
        expect(await api.delete(["c", "c"])).toBe(0);
      });

      it("stores falsy values distinctly from missing keys", async () => {
        const { api } = open();
        await api.put({ zero: 0, empty: "", no: false, nul: null });
        expect(await api.get("zero")).toBe(0);
        expect(await api.get("empty")).toBe("");
        expect(await api.get("no")).toBe(false);
        expect(await api.get("nul")).toBeNull();
      });

      it("the sync kv API shares the same data", async () => {
        const { api } = open();
        api.kv.put("x", [1, 2]);
        expect(await api.get("x")).toEqual([1, 2]);
        await api.put("y", "why");
        expect(api.kv.get("y")).toBe("why");
        expect([...api.kv.list({ prefix: "" })].map(([k]) => k)).toEqual(["x", "y"]);
        expect(api.kv.delete("x")).toBe(true);
        expect(api.kv.delete("x")).toBe(false);
        expect(api.kv.get("x")).toBeUndefined();
      });
    });

    describe("limits and errors", () => {
      it("refuses keys over 2,048 UTF-8 bytes with the size in the message", async () => {
        const { api } = open();
        await api.put("k".repeat(2048), 1);
        const err = await api.put("é".repeat(1025), 1).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "ERR_STORAGE_KEY_TOO_LARGE" });
        expect((err as Error).message).toContain("2,050 bytes; the limit is 2,048");
        expect(await codeOf(api.get("k".repeat(2049)))).toBe("ERR_STORAGE_KEY_TOO_LARGE");
        expect(await codeOf(() => api.kv.put("k".repeat(2049), 1))).toBe("ERR_STORAGE_KEY_TOO_LARGE");
      });

      it("converts non-string keys to strings, as workerd does", async () => {
        const { api } = open();
        await api.put(42 as unknown as string, 1);
        expect(await api.get("42")).toBe(1);
        expect(await api.get([42] as unknown as string[])).toEqual(new Map([["42", 1]]));
        await expect(api.put(Symbol("k") as unknown as string, 1)).rejects.toThrow(new TypeError("Cannot convert a Symbol value to a string"));
      });

      it("refuses key + value over 2 MiB", async () => {
        const { api } = open();
        await api.put("big", new Uint8Array(2_000_000));
        expect(await codeOf(api.put("huge", new Uint8Array(2_097_152)))).toBe("ERR_STORAGE_VALUE_TOO_LARGE");
        expect(await api.get("huge")).toBeUndefined();
      });

      it("refuses more than 128 keys per call", async () => {
        const { api } = open();
        const keys = Array.from({ length: 129 }, (_, i) => `k${i}`);
        expect(await codeOf(api.get(keys))).toBe("ERR_STORAGE_TOO_MANY_KEYS");
        expect(await codeOf(api.delete(keys))).toBe("ERR_STORAGE_TOO_MANY_KEYS");
        expect(await codeOf(api.put(Object.fromEntries(keys.map((k) => [k, 1]))))).toBe("ERR_STORAGE_TOO_MANY_KEYS");
        await api.put(Object.fromEntries(keys.slice(0, 128).map((k) => [k, 1])));
        expect((await api.list()).size).toBe(128);
      });

      it("refuses functions and symbols with workerd's DataCloneError, and writes nothing of that call", async () => {
        const { api } = open();
        const err = await api.put({ good: 1, "bad-key": { f: () => 1 } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DOMException);
        expect(err).toMatchObject({ name: "DataCloneError", code: 25, message: "() => 1 could not be cloned." });
        expect(await api.get("good")).toBeUndefined();
        await expect(api.put("s", Symbol("x"))).rejects.toMatchObject({ name: "DataCloneError", message: "Symbol(x) could not be cloned." });
      });

      it("refuses put(key, undefined) with workerd's TypeError; entries with undefined values are skipped", async () => {
        const { api } = open();
        await expect(api.put("u", undefined)).rejects.toThrow(new TypeError("put() called with undefined value."));
        await api.put({ skipped: undefined, kept: 1 });
        expect(await api.get(["skipped", "kept"])).toEqual(new Map([["kept", 1]]));
      });
    });

    describe("order and list()", () => {
      it("orders keys by UTF-8 bytes", async () => {
        const { api } = open();
        const keys = ["b", "a", "ab", "", "\u{1F600}", "\uFFFF", "Z", "é", "a\u0000"];
        for (const k of keys) await api.put(k, k);
        const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        expect([...(await api.list()).keys()]).toEqual(expected);
        expect([...(await api.list({ reverse: true })).keys()]).toEqual([...expected].reverse());
      });

      it("applies start, startAfter, end, prefix, reverse and limit", async () => {
        const { api } = open();
        await api.put(Object.fromEntries(["a1", "a2", "a3", "b1", "b2", "c"].map((k) => [k, k])));
        const keys = async (o: Parameters<DurableObjectStorage["list"]>[0]) => [...(await api.list(o)).keys()];
        expect(await keys({ start: "a2" })).toEqual(["a2", "a3", "b1", "b2", "c"]);
        expect(await keys({ startAfter: "a2" })).toEqual(["a3", "b1", "b2", "c"]);
        expect(await keys({ end: "b1" })).toEqual(["a1", "a2", "a3"]);
        expect(await keys({ start: "a2", end: "b2" })).toEqual(["a2", "a3", "b1"]);
        expect(await keys({ prefix: "a" })).toEqual(["a1", "a2", "a3"]);
        expect(await keys({ prefix: "b", reverse: true })).toEqual(["b2", "b1"]);
        expect(await keys({ prefix: "a", reverse: true, limit: 2 })).toEqual(["a3", "a2"]);
        expect(await keys({ reverse: true, limit: 1 })).toEqual(["c"]);
        expect(await keys({ limit: 2 })).toEqual(["a1", "a2"]);
        expect(await keys({ prefix: "a", start: "a2", end: "a3" })).toEqual(["a2"]);
        expect(await keys({ prefix: "x" })).toEqual([]);
        const map = await api.list({ prefix: "b" });
        expect([...map.entries()]).toEqual([
          ["b1", "b1"],
          ["b2", "b2"],
        ]);
      });

      it("refuses start with startAfter, and limits below 1, with workerd's TypeErrors", async () => {
        const { api } = open();
        await api.put({ a: 1, b: 2 });
        await expect(api.list({ start: "a", startAfter: "b" })).rejects.toThrow(
          new TypeError("list() cannot be called with both start and startAfter values."),
        );
        expect(await codeOf(api.list({ start: "a", startAfter: "b" }))).toBe("ERR_STORAGE_INVALID_LIST_OPTIONS");
        await expect(api.list({ limit: 0 })).rejects.toThrow(new TypeError("List limit must be positive."));
        // Converted like workerd: a fraction is truncated, a numeric string is a number.
        expect([...(await api.list({ limit: 1.5 })).keys()]).toEqual(["a"]);
        expect([...(await api.list({ limit: "1" as unknown as number })).keys()]).toEqual(["a"]);
      });
    });

    describe("values", () => {
      it("round-trips structured-clone values", async () => {
        const { api } = open();
        const cyclic: Record<string, unknown> = { name: "loop" };
        cyclic.self = cyclic;
        const values: Record<string, unknown> = {
          map: new Map<unknown, unknown>([
            ["a", 1],
            [2, { b: [3] }],
          ]),
          set: new Set([1, "two", 3n]),
          date: new Date(1_700_000_000_000),
          bytes: new Uint8Array([1, 2, 255]),
          floats: new Float64Array([1.5, -0, NaN]),
          nested: { a: [1, { b: null, c: undefined }], d: "é\u{1F600}" },
          big: 2n ** 70n,
          regexp: /a+b/gi,
          cyclic,
        };
        await api.put(values);
        const got = await api.get(Object.keys(values));
        for (const [k, v] of Object.entries(values)) expect(got.get(k), k).toEqual(v);
        const back = got.get("cyclic") as Record<string, unknown>;
        expect(back.self).toBe(back);
        expect(got.get("bytes")).toBeInstanceOf(Uint8Array);
      });

      it("returns a fresh copy on every read and snapshots the value at put()", async () => {
        const { api } = open();
        const value = { list: [1] };
        await api.put("v", value);
        value.list.push(2);
        const first = await api.get<{ list: number[] }>("v");
        expect(first).toEqual({ list: [1] });
        first!.list.push(99);
        const second = await api.get<{ list: number[] }>("v");
        expect(second).toEqual({ list: [1] });
        expect(second).not.toBe(first);
        expect(api.kv.get("v")).not.toBe(api.kv.get("v"));
      });
    });

    describe("batches", () => {
      it("coalesces the writes of one turn into one batch and one commit", async () => {
        const d = open();
        void d.api.put("a", 1);
        void d.api.put({ b: 2, c: 3 });
        void d.api.delete("a");
        d.api.kv.put("d", 4);
        expect(d.storage.hasPendingWrites).toBe(true);
        expect(d.batchesStarted).toBe(1);
        expect(await d.api.get("b")).toBe(2); // read-your-writes
        await d.endOfTurn();
        expect(d.commits).toBe(1);
        expect(d.storage.hasPendingWrites).toBe(false);
        await d.api.put("e", 5);
        expect(d.batchesStarted).toBe(2);
      });

      it("reads do not start a batch", async () => {
        const d = open();
        await d.api.get("a");
        await d.api.list();
        await d.api.getAlarm();
        expect(d.batchesStarted).toBe(0);
        expect(d.storage.hasPendingWrites).toBe(false);
      });

      it("sync() commits through the runtime's flush", async () => {
        const d = open();
        await d.api.put("a", 1);
        await d.api.sync();
        expect(d.storage.hasPendingWrites).toBe(false);
        const again = reopen(d);
        expect(await again.api.get("a")).toBe(1);
      });

      it("rollback() discards the whole open batch", async () => {
        const d = open();
        await d.api.put("kept", 1);
        await d.api.sync();
        await d.api.put("kept", 2);
        await d.api.put("gone", 3);
        await d.api.setAlarm(5_000);
        d.storage.rollback();
        expect(d.storage.hasPendingWrites).toBe(false);
        expect(await d.api.get("kept")).toBe(1);
        expect(await d.api.get("gone")).toBeUndefined();
        expect(await d.api.getAlarm()).toBeNull();
      });

      it("a failed commit throws and discards the whole batch", async (ctx) => {
        if (subject.failNextCommit === undefined) ctx.skip();
        const d = open();
        await d.api.put("before", 1);
        await d.api.sync();
        await d.api.put({ a: 1, b: 2 });
        await d.api.put("before", 2);
        subject.failNextCommit!(d.storage);
        expect(() => d.storage.commit()).toThrow(expect.objectContaining({ code: "ERR_STORAGE_COMMIT_FAILED" }));
        expect(d.storage.hasPendingWrites).toBe(false);
        expect(await d.api.get(["a", "b", "before"])).toEqual(new Map([["before", 1]]));
        await d.api.put("after", 3);
        await d.api.sync();
        expect(await reopen(d).api.get(["a", "after", "before"])).toEqual(
          new Map<string, number>([
            ["after", 3],
            ["before", 1],
          ]),
        );
      });
    });

    describe("transactions", () => {
      it("transactionSync returns the closure's value and rolls back when it throws", async () => {
        const { api } = open();
        await api.put("a", 0);
        expect(api.transactionSync(() => (api.kv.put("a", 1), "ok"))).toBe("ok");
        expect(() =>
          api.transactionSync(() => {
            api.kv.put("a", 2);
            api.kv.put("b", 2);
            throw new Error("boom");
          }),
        ).toThrow("boom");
        expect(await api.get(["a", "b"])).toEqual(new Map([["a", 1]]));
      });

      it("nested transactionSync acts as a savepoint", async () => {
        const { api } = open();
        api.transactionSync(() => {
          api.kv.put("outer", 1);
          expect(() =>
            api.transactionSync(() => {
              api.kv.put("inner", 1);
              api.kv.delete("outer");
              throw new Error("inner");
            }),
          ).toThrow("inner");
          api.transactionSync(() => api.kv.put("inner2", 1));
        });
        expect([...(await api.list()).keys()]).toEqual(["inner2", "outer"]);
      });

      it("transactionSync refuses an async closure after rolling it back", async () => {
        const { api } = open();
        const err = (() => {
          try {
            api.transactionSync(() => {
              api.kv.put("a", 1);
              return Promise.resolve();
            });
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(err).toMatchObject({ code: "ERR_STORAGE_ASYNC_TRANSACTION_SYNC" });
        expect(await api.get("a")).toBeUndefined();
      });

      it("transaction() commits the closure's writes together or not at all", async () => {
        const d = open();
        const { api } = d;
        const result = await api.transaction(async (txn) => {
          await txn.put("a", 1);
          await txn.put("b", 2);
          return (await txn.get<number>("a"))! + 1;
        });
        expect(result).toBe(2);
        await expect(
          api.transaction(async (txn) => {
            await txn.put("a", 10);
            await txn.delete("b");
            throw new Error("nope");
          }),
        ).rejects.toThrow("nope");
        expect(await api.get(["a", "b"])).toEqual(
          new Map([
            ["a", 1],
            ["b", 2],
          ]),
        );
        await api.transaction(async (txn) => {
          await txn.put("a", 20);
          await txn.setAlarm(123_000);
          txn.rollback();
        });
        expect(await api.get("a")).toBe(1);
        expect(await api.getAlarm()).toBeNull();
        await d.endOfTurn();
        expect(await reopen(d).api.get(["a", "b"])).toEqual(
          new Map([
            ["a", 1],
            ["b", 2],
          ]),
        );
      });

      it("a commit asked for inside transactionSync() waits for the closure (it then throws: nothing stays)", async () => {
        const d = open();
        const { api } = d;
        await api.put("kept", 1);
        await d.endOfTurn();
        expect(() =>
          api.transactionSync(() => {
            api.kv.put("a", 1);
            // sync() commits now unless the provider counts this closure (the batch protocol defers it).
            void api.sync();
            throw new Error("after sync");
          }),
        ).toThrow("after sync");
        expect(await api.get("a")).toBeUndefined();
        await d.endOfTurn();
        expect(await reopen(d).api.get(["a", "kept"])).toEqual(new Map([["kept", 1]]));
      });

      it("close() with a transaction() closure still open drops the batch (nothing of it was acknowledged)", async () => {
        const d = open();
        await d.api.put("kept", 1);
        await d.endOfTurn();
        let entered!: () => void;
        const inside = new Promise<void>((resolve) => (entered = resolve));
        // The closure writes, then waits for something that never comes; its storage closes under it.
        const closure = d.api.transaction(async (txn) => {
          await txn.put("a", 1);
          entered();
          await new Promise(() => {});
        });
        closure.catch(() => {});
        await inside;
        expect(await reopen(d).api.get(["a", "kept"])).toEqual(new Map([["kept", 1]]));
      });

      it("transaction() survives an end-of-turn commit while its closure awaits", async () => {
        const d = open();
        const p = d.api.transaction(async (txn) => {
          await txn.put("a", 1);
          await d.endOfTurn(); // the runtime's end-of-turn commit runs here
          await txn.put("b", 2);
          throw new Error("late failure");
        });
        await expect(p).rejects.toThrow("late failure");
        expect(await d.api.get(["a", "b"])).toEqual(new Map());
        await d.endOfTurn();
        expect(d.storage.hasPendingWrites).toBe(false);
      });
    });

    describe("alarms", () => {
      it("gets, sets and deletes the alarm", async () => {
        const d = open();
        expect(await d.api.getAlarm()).toBeNull();
        await d.api.setAlarm(1_700_000_000_000);
        expect(await d.api.getAlarm()).toBe(1_700_000_000_000);
        expect(d.storage.alarmTime()).toBe(1_700_000_000_000);
        expect(d.alarmChanges).toBeGreaterThan(0);
        await d.api.setAlarm(new Date(1_800_000_000_000));
        expect(await d.api.getAlarm()).toBe(1_800_000_000_000);
        await d.api.sync();
        const again = reopen(d);
        expect(await again.api.getAlarm()).toBe(1_800_000_000_000);
        await again.api.deleteAlarm();
        expect(await again.api.getAlarm()).toBeNull();
        expect(again.storage.alarmTime()).toBeNull();
      });

      it("refuses invalid alarm times with workerd's TypeErrors", async () => {
        const { api } = open();
        const invalid = new TypeError("The value cannot be converted because it is not a valid Date.");
        await expect(api.setAlarm(Number.NaN)).rejects.toThrow(invalid);
        await expect(api.setAlarm(new Date("nope"))).rejects.toThrow(invalid);
        expect(await codeOf(api.setAlarm(Number.NaN))).toBe("ERR_STORAGE_INVALID_ALARM");
        await expect(api.setAlarm("soon" as unknown as number)).rejects.toThrow(
          new TypeError("Failed to execute 'setAlarm' on 'DurableObjectStorage': parameter 1 is not of type 'date'."),
        );
        await expect(api.setAlarm(0)).rejects.toThrow(new TypeError("setAlarm() cannot be called with an alarm time <= 0"));
      });

      it("clearAlarmIfUnchanged clears only the same time, durably", async () => {
        const d = open();
        await d.api.setAlarm(5_000);
        await d.api.sync();
        d.storage.clearAlarmIfUnchanged(4_000);
        expect(d.storage.alarmTime()).toBe(5_000);
        d.storage.clearAlarmIfUnchanged(5_000);
        expect(d.storage.alarmTime()).toBeNull();
        // A write of the open batch, committed (and made durable) by the runtime like any other.
        expect(d.storage.hasPendingWrites).toBe(true);
        d.storage.commit();
        expect(reopen(d).storage.alarmTime()).toBeNull();
      });
    });

    it("deleteAll removes every key and the alarm", async () => {
      const d = open();
      await d.api.put({ a: 1, b: 2 });
      await d.api.setAlarm(9_000);
      await d.api.sync();
      await d.api.deleteAll();
      expect((await d.api.list()).size).toBe(0);
      expect(await d.api.getAlarm()).toBeNull();
      await d.api.put("c", 3);
      await d.api.sync();
      const again = reopen(d);
      expect([...(await again.api.list()).keys()]).toEqual(["c"]);
      expect(again.storage.alarmTime()).toBeNull();
    });

    describe("persistence", () => {
      it("keeps data across close and reopen (hibernation), committing on close", async () => {
        const d = open();
        await d.api.put("committed", 1);
        await d.api.sync();
        await d.api.put("pending", 2);
        await d.api.setAlarm(42_000);
        d.storage.close();
        d.storage.close(); // safe twice
        expect(await codeOf(d.api.get("committed"))).toBe("ERR_STORAGE_CLOSED");
        const again = reopen(d);
        expect(await again.api.get(["committed", "pending"])).toEqual(
          new Map([
            ["committed", 1],
            ["pending", 2],
          ]),
        );
        expect(again.storage.alarmTime()).toBe(42_000);
      });

      it("keeps objects apart", async () => {
        const a = open("a");
        const b = open("b");
        await a.api.put("k", "a");
        await b.api.put("k", "b");
        expect(await a.api.get("k")).toBe("a");
        expect(await b.api.get("k")).toBe("b");
      });

      it("lists objects per namespace and alarms across objects, with names", async () => {
        const a = open("alpha", "ROOMS", true);
        const b = open("beta", "ROOMS");
        const c = open("gamma", "OTHER", true);
        await a.api.put("k", 1);
        await b.api.put("k", 1);
        await c.api.put("k", 1);
        await a.api.setAlarm(7_000);
        await c.api.setAlarm(8_000);
        for (const d of [a, b, c]) d.storage.close();
        const rooms = subject.provider.listObjects("ROOMS");
        expect(rooms.map((k) => k.id).sort()).toEqual([a.key.id, b.key.id].sort());
        expect(rooms.find((k) => k.id === a.key.id)?.name).toBe("alpha");
        expect(rooms.every((k) => k.namespace === "ROOMS")).toBe(true);
        expect(subject.provider.listObjects("NONE")).toEqual([]);
        const alarms = subject.provider.listAlarms().map((x) => [x.key.namespace, x.key.id, x.key.name, x.scheduledTime]);
        expect(alarms.sort()).toEqual(
          [
            ["ROOMS", a.key.id, "alpha", 7_000],
            ["OTHER", c.key.id, "gamma", 8_000],
          ].sort(),
        );
        const again = reopen(c);
        await again.api.deleteAlarm();
        await again.api.sync();
        // Stale extra entries are allowed; a cleared alarm that is still listed must read back as null.
        for (const x of subject.provider.listAlarms()) {
          if (x.key.id === c.key.id) expect(again.storage.alarmTime()).toBeNull();
        }
      });
    });
  });
}
