/**
 * A provider's prepare(): the object's events wait (in order) until it
 * settles, the instance is constructed only after it (a constructor may read
 * storage at once), and a rejection fails the waiting calls with
 * ERR_STORAGE_OPEN without constructing anything.
 */
import { expect, test } from "vitest";
import { DurableObject, Runtime, memoryStorage, silentLogger, type StorageProvider } from "../src/index.ts";
import type { ObjectKey } from "../src/storage/index.ts";

let constructions = 0;

class Counter extends DurableObject {
  readonly startedWith: number;
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    constructions++;
    // Storage read synchronously in the constructor: it must see prepared data.
    this.startedWith = (ctx.storage.kv.get<number>("n") ?? 0) as number;
  }
  async add(by: number) {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + by;
    await this.ctx.storage.put("n", n);
    return { n, startedWith: this.startedWith };
  }
}
type DurableObjectState = ConstructorParameters<typeof DurableObject>[0];

/** A memory provider whose prepare() the test settles by hand, once per key until `ready`. */
function gatedProvider() {
  const inner = memoryStorage();
  const ready = new Set<string>();
  const pending: { key: ObjectKey; resolve(): void; reject(e: unknown): void }[] = [];
  const provider: StorageProvider = {
    prepare(key) {
      if (ready.has(key.id)) return null;
      return new Promise<void>((resolve, reject) => pending.push({ key, resolve, reject }));
    },
    open: (key, hooks) => inner.open(key, hooks),
    listAlarms: () => inner.listAlarms(),
    listObjects: (ns) => inner.listObjects(ns),
    close: () => inner.close(),
  };
  return { provider, inner, ready, pending };
}

test("events wait for prepare(), keep their order, and the constructor runs after it", async () => {
  constructions = 0;
  const { provider, inner, ready, pending } = gatedProvider();
  const runtime = new Runtime({ objects: { COUNTER: Counter }, storage: provider, logger: silentLogger });
  const ns = runtime.namespace<Counter>("COUNTER");
  // Data the "restore" brings: written to the inner provider before prepare() resolves.
  const stub = ns.getByName("a");
  const calls = [stub.add(1), stub.add(2), stub.add(3)];
  await new Promise((r) => setImmediate(r));
  expect(pending).toHaveLength(1);
  expect(constructions).toBe(0);
  const seed = inner.open(pending[0]!.key, { writeStarted() {}, alarmChanged() {}, flush: async () => {}, holdInput: (p) => p });
  seed.api.kv.put("n", 100);
  seed.commit();
  seed.close();
  ready.add(pending[0]!.key.id);
  pending[0]!.resolve();
  expect(await Promise.all(calls)).toEqual([
    { n: 101, startedWith: 100 },
    { n: 103, startedWith: 100 },
    { n: 106, startedWith: 100 },
  ]);
  expect(constructions).toBe(1);
  await runtime.close();
});

test("a rejected prepare() fails the waiting calls with ERR_STORAGE_OPEN and constructs nothing; a later call prepares again", async () => {
  constructions = 0;
  const { provider, ready, pending } = gatedProvider();
  const runtime = new Runtime({ objects: { COUNTER: Counter }, storage: provider, logger: silentLogger });
  const stub = runtime.namespace<Counter>("COUNTER").getByName("b");
  const first = stub.add(1);
  await new Promise((r) => setImmediate(r));
  pending[0]!.reject(new Error("the slot moved"));
  await expect(first).rejects.toMatchObject({ code: "ERR_STORAGE_OPEN", message: expect.stringMatching(/the slot moved/) });
  expect(constructions).toBe(0);
  const second = stub.add(5);
  await new Promise((r) => setImmediate(r));
  expect(pending).toHaveLength(2);
  ready.add(pending[1]!.key.id);
  pending[1]!.resolve();
  expect(await second).toEqual({ n: 5, startedWith: 0 });
  await runtime.close();
});
