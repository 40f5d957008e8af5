// RPC by reference in one process: functions, RpcTargets and stubs passed
// through Durable Object RPC become stubs calling back into their origin,
// with workerd's disposal, pipelining and errors (compat/test/rpc.test.ts
// checks the same behaviours against workerd).
import { expect, test } from "vitest";
import { DurableObject, type DurableObjectStub, RpcStub, RpcTarget, Runtime, silentLogger } from "../src/index.ts";
import { LocalTarget } from "../src/cluster/index.ts";

class Counter extends RpcTarget {
  disposed = 0;
  own = "instance field";
  constructor(public count = 0) {
    super();
  }
  increment(by = 1) {
    this.count += by;
    return this.count;
  }
  get value() {
    return this.count;
  }
  [Symbol.dispose]() {
    this.disposed++;
  }
}

class Room extends DurableObject {
  kept: unknown[] = [];
  async each(callback: (n: number) => Promise<number>) {
    return [await callback(1), await callback(2)];
  }
  async useTarget(counter: { increment(by: number): number | Promise<number> }) {
    return counter.increment(10);
  }
  keep(stub: { dup(): unknown }, duplicate: boolean) {
    this.kept.push(duplicate ? stub.dup() : stub);
    return "kept";
  }
  async callKept(i: number) {
    return (this.kept[i] as () => Promise<unknown>)();
  }
  makeCounter(start: number) {
    return new Counter(start);
  }
  makeMany() {
    return { a: new Counter(1), b: (x: number) => x * 2, plain: 3 };
  }
  async readOwn(counter: Record<string, Promise<unknown>>) {
    return counter.own;
  }
  async callReserved(counter: Record<string, () => Promise<unknown>>, name: string) {
    return counter[name]!();
  }
  async relay(other: DurableObjectStub<Room>, callback: (n: number) => Promise<number>) {
    return other.each(callback);
  }
  number() {
    return 5;
  }
}

function setup() {
  const runtime = new Runtime({ objects: { ROOMS: Room }, logger: silentLogger });
  return { runtime, rooms: runtime.namespace<Room>("ROOMS") };
}

/** The disposer runs after the turn (as on workerd); a macrotask is past it. */
const afterTurn = () => new Promise((resolve) => setImmediate(resolve));

test("a function passed as an argument is called back with its arguments and result copied", async () => {
  const { runtime, rooms } = setup();
  const seen: number[] = [];
  const result = await rooms.getByName("a").each(async (n) => {
    seen.push(n);
    return n * 100;
  });
  expect(result).toEqual([100, 200]);
  expect(seen).toEqual([1, 2]);
  await runtime.close();
});

test("an RpcTarget argument: its class members run here, its own fields are not members, and it is disposed when the call ends", async () => {
  const { runtime, rooms } = setup();
  const counter = new Counter(1);
  expect(await rooms.getByName("a").useTarget(counter)).toBe(11);
  expect(counter.count).toBe(11);
  await afterTurn();
  expect(counter.disposed).toBe(1);
  await expect(rooms.getByName("a").readOwn(new Counter() as never)).rejects.toThrow(new TypeError('The RPC receiver does not implement the method "own".'));
  // `constructor` is the stub's own (the RpcStub class), as on workerd; a path through a member reaches the receiver's check.
  await expect(rooms.getByName("a").callReserved(new Counter() as never, "constructor")).rejects.toThrow(
    "Failed to construct 'JsRpcStub': Please use the 'new' operator, this object constructor cannot be called as a function.",
  );
  await expect(rooms.getByName("a").callReserved(new Counter() as never, "nope")).rejects.toThrow('The RPC receiver does not implement the method "nope".');
  await runtime.close();
});

test("a stub kept past the call must be dup()ed: the callee's own copy is disposed when the call returns", async () => {
  const { runtime, rooms } = setup();
  const room = rooms.getByName("k");
  let calls = 0;
  const callback = () => ++calls;
  await room.keep(callback as never, true);
  await room.keep(callback as never, false);
  expect(await room.callKept(0)).toBe(1);
  await expect(room.callKept(1)).rejects.toThrow(new Error("RPC stub used after being disposed."));
  expect(calls).toBe(1);
  await runtime.close();
});

test("a returned RpcTarget is a stub: methods, getters, disposal that reaches the target, errors after disposal", async () => {
  const { runtime, rooms } = setup();
  const counter = (await rooms.getByName("r").makeCounter(3)) as unknown as Counter & { dup(): Counter } & Disposable;
  expect(await counter.increment(2)).toBe(5);
  expect(await counter.value).toBe(5);
  const copy = counter.dup();
  counter[Symbol.dispose]();
  await expect(counter.increment()).rejects.toThrow("RPC stub used after being disposed.");
  // The copy holds the target alive.
  expect(await copy.increment()).toBe(6);
  (copy as unknown as Disposable)[Symbol.dispose]();
  await runtime.close();
});

test("promise pipelining: a method or property of a result before it arrives", async () => {
  const { runtime, rooms } = setup();
  const room = rooms.getByName("p") as unknown as Record<string, (...a: unknown[]) => Record<string, (...a: unknown[]) => Promise<unknown>>>;
  expect(await room.makeCounter!(7).increment!(3)).toBe(10);
  expect(await room.makeCounter!(4).value).toBe(4);
  expect(await room.makeMany!().b!(21)).toBe(42);
  await expect(room.number!().foo!()).rejects.toThrow(new TypeError('The RPC receiver does not implement the method "foo".'));
  const pending = room.makeCounter!(1) as unknown as Disposable & Record<string, () => Promise<unknown>>;
  pending[Symbol.dispose]();
  await expect(pending.increment!()).rejects.toThrow(new Error("RPC promise used after being disposed."));
  await runtime.close();
});

test("disposing a result disposes every stub in it", async () => {
  const { runtime, rooms } = setup();
  const many = (await rooms.getByName("m").makeMany()) as unknown as { a: Counter; b: (x: number) => Promise<number>; plain: number } & Disposable;
  expect(many.plain).toBe(3);
  expect(await many.a.increment()).toBe(2);
  many[Symbol.dispose]();
  await expect(many.a.increment()).rejects.toThrow("RPC stub used after being disposed.");
  await expect(many.b(1)).rejects.toThrow("RPC stub used after being disposed.");
  await runtime.close();
});

test("stubs pass on: a callback through a second object, a returned target to a third, the caller's stub stays usable", async () => {
  const { runtime, rooms } = setup();
  const seen: number[] = [];
  expect(await rooms.getByName("one").relay(rooms.getByName("two"), async (n) => seen.push(n))).toEqual([1, 2]);
  expect(seen).toEqual([1, 2]);
  const counter = await rooms.getByName("owner").makeCounter(0);
  expect(await rooms.getByName("third").useTarget(counter as never)).toBe(10);
  expect(await rooms.getByName("fourth").useTarget(counter as never)).toBe(20);
  expect(await counter.increment(1)).toBe(21);
  await runtime.close();
});

test("new RpcStub(target): disposal reaches the target once every stub is gone; bad values are refused", async () => {
  const { runtime, rooms } = setup();
  const counter = new Counter();
  const stub = new RpcStub(counter) as unknown as Counter & Disposable;
  expect(stub instanceof RpcStub).toBe(true);
  await rooms.getByName("s").useTarget(stub as never);
  await rooms.getByName("s").useTarget(stub as never);
  await afterTurn();
  expect(counter.disposed).toBe(0);
  expect(await stub.increment()).toBe(21);
  stub[Symbol.dispose]();
  await afterTurn();
  expect(counter.disposed).toBe(1);
  expect(() => new RpcStub(5 as never)).toThrow(new TypeError("Failed to construct 'JsRpcStub': constructor parameter 1 is not of type 'JsObject'."));
  expect(() => new RpcStub(new Date())).toThrow(new TypeError("RpcStubs can only wrap plain objects, functions, and RpcTarget derivatives."));
  expect(() => (RpcStub as unknown as (v: object) => object)(counter)).toThrow(
    new TypeError("Failed to construct 'JsRpcStub': Please use the 'new' operator, this object constructor cannot be called as a function."),
  );
  // What the class JsRpcStub's prototype chain has answers locally, as on workerd.
  expect(String(stub)).toBe("[object JsRpcStub]");
  expect((stub as unknown as { constructor: unknown }).constructor).toBe(RpcStub);
  await runtime.close();
});

test("an RpcTarget with dup(): the duplicate is sent and disposed, the original is not", async () => {
  const { runtime, rooms } = setup();
  let dups = 0;
  class Dupable extends Counter {
    dup() {
      dups++;
      return new Counter(100);
    }
  }
  const original = new Dupable();
  expect(await rooms.getByName("d").useTarget(original)).toBe(110);
  expect(dups).toBe(1);
  expect(original.count).toBe(0);
  await afterTurn();
  expect(original.disposed).toBe(0);
  class BadDup extends Counter {
    dup() {
      return 1;
    }
  }
  await expect(rooms.getByName("d").useTarget(new BadDup())).rejects.toMatchObject({ name: "DataCloneError" });
  await runtime.close();
});

test("to a process taking copies only (what a cluster owner runs for another node) references are refused with ERR_RPC_CLONE, not hung", async () => {
  const { runtime, rooms } = setup();
  const stub = rooms.getByName("x");
  await stub.number();
  const host = runtime.hostForKey({ namespace: "ROOMS", id: stub.id.toString(), name: "x" });
  const remote = new LocalTarget(host);
  await expect(remote.call("each", [() => 1])).rejects.toMatchObject({
    code: "ERR_RPC_CLONE",
    message: expect.stringMatching(/^The arguments of each\(\) holds a function: .*another node of a several-machine cluster/),
  });
  await expect(remote.call("makeCounter", [1])).rejects.toMatchObject({ code: "ERR_RPC_CLONE" });
  await runtime.close();
});
