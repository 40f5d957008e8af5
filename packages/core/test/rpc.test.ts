import { expect, test } from "vitest";
import { DurableObject, Runtime, silentLogger } from "../src/index.ts";

class Counter extends DurableObject {
  seen: unknown[] = [];
  label = { text: "counter" };
  async increment(by = 1) {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + by;
    await this.ctx.storage.put("n", n);
    return n;
  }
  keep(value: { list: number[] }) {
    value.list.push(99);
    this.seen.push(value);
    return value;
  }
  fail() {
    throw new RangeError("no such thing");
  }
  returnsFunction() {
    return () => 1;
  }
  whoAmI() {
    return { id: this.ctx.id.toString(), name: this.ctx.id.name };
  }
}

function setup() {
  const runtime = new Runtime({ objects: { COUNTER: Counter }, logger: silentLogger });
  return { runtime, ns: runtime.namespace<Counter>("COUNTER") };
}

test("RPC runs a public method inside the object and returns its result", async () => {
  const { ns } = setup();
  const stub = ns.getByName("a");
  expect(await stub.increment()).toBe(1);
  expect(await stub.increment(5)).toBe(6);
  expect(await ns.getByName("b").increment()).toBe(1);
  expect(await stub.whoAmI()).toEqual({ id: ns.idFromName("a").toString(), name: "a" });
});

test("concurrent RPC calls through the gate do not lose updates", async () => {
  const { ns } = setup();
  const stub = ns.getByName("race");
  const results = await Promise.all(Array.from({ length: 50 }, () => stub.increment()));
  expect(results.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
});

test("arguments and results are structured-cloned", async () => {
  const { ns } = setup();
  const arg = { list: [1] };
  const result = await ns.getByName("c").keep(arg);
  expect(arg.list).toEqual([1]);
  expect(result.list).toEqual([1, 99]);
});

test("errors thrown by the method reach the caller", async () => {
  const { ns } = setup();
  await expect(ns.getByName("d").fail()).rejects.toThrow("no such thing");
});

test("unknown methods, handlers and uncloneable values are refused with stable codes", async () => {
  const { ns } = setup();
  const stub = ns.getByName("e") as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  await expect(stub.nope!()).rejects.toMatchObject({ code: "ERR_NO_SUCH_METHOD" });
  await expect(stub.alarm!()).rejects.toMatchObject({ code: "ERR_NO_SUCH_METHOD" });
  await expect(stub.increment!(Symbol("not cloneable"))).rejects.toMatchObject({ code: "ERR_RPC_CLONE" });
  // A function is not copied: it arrives as a stub calling back into it (rpc-reference.test.ts).
  expect(await ((await stub.returnsFunction!()) as () => Promise<number>)()).toBe(1);
});

test("a stub is not a thenable and exposes id and name", async () => {
  const { ns } = setup();
  const stub = ns.getByName("f");
  expect(await stub).toBe(stub);
  expect(stub.name).toBe("f");
  expect(stub.id.equals(ns.idFromName("f"))).toBe(true);
});

test("properties can be read over RPC with await, as on Cloudflare", async () => {
  const { ns } = setup();
  const typed = ns.getByName("props");
  expect((await typed.label).text).toBe("counter");
  const stub = typed as unknown as Record<string, unknown>;
  expect(await stub.label).toEqual({ text: "counter" });
  await expect(Promise.resolve(stub.missing)).rejects.toMatchObject({
    code: "ERR_NO_SUCH_METHOD",
    message: expect.stringMatching(/no public property "missing"/),
  });
  await expect(Promise.resolve(stub.increment)).rejects.toMatchObject({ code: "ERR_NO_SUCH_METHOD", message: expect.stringMatching(/is a method/) });
  // The same member still works as a method.
  expect(await (stub.increment as () => Promise<number>)()).toBe(1);
});
