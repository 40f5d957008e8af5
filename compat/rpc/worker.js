// One Worker passing functions, RpcTargets and stubs through Durable Object
// RPC, run unchanged on workerd (through miniflare) and on Torpor (through
// `torpor dev` on wrangler.jsonc), so the two can be compared
// (test/rpc.test.ts). GET /rpc runs every case and answers what each saw:
// a value, or the error's class and message.
//
// No `using` declarations: Node 20 cannot parse them; `x[Symbol.dispose]()`
// is what `using` calls.
import { DurableObject, RpcStub, RpcTarget } from "cloudflare:workers";

const json = (value, status = 200) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

/** The turn after this one (an RpcTarget's disposer runs after the stub's dispose, asynchronously). */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

class Counter extends RpcTarget {
  constructor(count = 0) {
    super();
    this.count = count;
    this.disposed = 0;
    this.own = "instance field";
  }
  increment(by = 1) {
    this.count += by;
    return this.count;
  }
  get value() {
    return this.count;
  }
  fail() {
    throw new RangeError(`counter at ${this.count} refuses`);
  }
  [Symbol.dispose]() {
    this.disposed++;
  }
}

class Dupable extends Counter {
  constructor(count, log) {
    super(count);
    this.log = log;
  }
  dup() {
    this.log.push("dup");
    const copy = new Dupable(this.count + 100, this.log);
    return copy;
  }
  [Symbol.dispose]() {
    this.log.push(`dispose ${this.count}`);
  }
}

export class Room extends DurableObject {
  kept = [];
  tracked = null;

  async each(callback) {
    return [await callback(1), await callback(2)];
  }
  typeOf(value) {
    return typeof value;
  }
  async useTarget(counter) {
    return counter.increment(10);
  }
  async readOwn(counter) {
    return await counter.own;
  }
  async readGetter(counter) {
    return await counter.value;
  }
  async callMember(counter, name) {
    return counter[name]();
  }
  async callTargetThatThrows(counter) {
    return counter.fail();
  }
  keep(stub, duplicate) {
    this.kept.push(duplicate ? stub.dup() : stub);
    return this.kept.length - 1;
  }
  async callKept(i) {
    return this.kept[i]();
  }
  makeCounter(start) {
    return new Counter(start);
  }
  makeTracked() {
    this.tracked = new Counter(0);
    return this.tracked;
  }
  trackedDisposed() {
    return this.tracked?.disposed ?? null;
  }
  makeMany() {
    return { a: new Counter(1), b: (x) => x * 2, plain: 3 };
  }
  makeFunction(factor) {
    return (x) => x * factor;
  }
  async relay(other, callback) {
    return other.each(callback);
  }
  number() {
    return 5;
  }
  get counter() {
    return new Counter(9);
  }
  async nested(callback) {
    const inner = await callback();
    return inner(4);
  }
}

/** Runs one case: its value, or the error it threw (class and message). */
async function run(fn) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: { name: error?.name, message: error?.message } };
  }
}

/** Polls `read` until it gives a value other than `not`, within a bounded number of turns. */
async function settle(read, not) {
  for (let i = 0; i < 200; i++) {
    const value = await read();
    if (value !== not) return value;
    await nextTurn();
  }
  return not;
}

async function rpcCases(rooms) {
  const room = (name) => rooms.get(rooms.idFromName(name));
  const out = {};

  out.callback = await run(async () => {
    const seen = [];
    const result = await room("a").each(async (n) => {
      seen.push(n);
      return n * 100;
    });
    return { result, seen };
  });
  out.callbackThrows = await run(() =>
    room("a").each(() => {
      throw new RangeError("callback refuses");
    }),
  );
  out.typeofStubs = await run(async () => ({
    target: await room("a").typeOf(new Counter()),
    fn: await room("a").typeOf(() => 1),
    plain: await room("a").typeOf({ f: 1 }),
  }));
  out.targetArgument = await run(async () => {
    const counter = new Counter(1);
    const result = await room("a").useTarget(counter);
    const before = counter.disposed;
    await nextTurn();
    return { result, count: counter.count, disposedAtReturn: before, disposedAfterTurn: counter.disposed };
  });
  out.targetGetter = await run(() => room("a").readGetter(new Counter(8)));
  out.targetOwnField = await run(() => room("a").readOwn(new Counter()));
  out.targetConstructor = await run(() => room("a").callMember(new Counter(), "constructor"));
  out.targetToString = await run(() => room("a").callMember(new Counter(), "toString"));
  out.targetMissing = await run(() => room("a").callMember(new Counter(), "nope"));
  out.targetNotAFunction = await run(() => room("a").callMember(new Counter(), "value"));
  out.targetThrows = await run(() => room("a").callTargetThatThrows(new Counter(2)));
  out.keptWithoutDup = await run(async () => {
    let calls = 0;
    const index = await room("k").keep(() => ++calls, false);
    const later = await run(() => room("k").callKept(index));
    return { later, calls };
  });
  out.keptWithDup = await run(async () => {
    let calls = 0;
    const index = await room("k").keep(() => ++calls, true);
    return { later: await room("k").callKept(index), calls };
  });
  out.returnedTarget = await run(async () => {
    const counter = await room("r").makeCounter(3);
    const steps = { typeof: typeof counter, isRpcStub: counter instanceof RpcStub };
    steps.increment = await counter.increment(2);
    steps.value = await counter.value;
    const copy = counter.dup();
    counter[Symbol.dispose]();
    steps.afterDispose = await run(() => counter.increment());
    steps.copy = await copy.increment();
    copy[Symbol.dispose]();
    steps.copyAfterDispose = await run(() => copy.increment());
    return steps;
  });
  out.returnedTargetDisposed = await run(async () => {
    const tracked = await room("t").makeTracked();
    await tracked.increment();
    const before = await room("t").trackedDisposed();
    tracked[Symbol.dispose]();
    return { before, after: await settle(() => room("t").trackedDisposed(), 0) };
  });
  out.returnedFunction = await run(async () => {
    const triple = await room("f").makeFunction(3);
    return { typeof: typeof triple, result: await triple(5) };
  });
  out.pipelinedCall = await run(() => room("p").makeCounter(7).increment(3));
  out.pipelinedProperty = await run(() => room("p").makeCounter(4).value);
  out.pipelinedIntoPlainResult = await run(() => room("p").makeMany().b(21));
  out.pipelinedPlainProperty = await run(() => room("p").makeMany().plain);
  out.pipelinedMissing = await run(() => room("p").makeMany().nope());
  out.pipelinedOnNumber = await run(() => room("p").number().foo());
  out.pipelinedFunction = await run(() => room("p").makeFunction(2)(21));
  out.propertyPathCall = await run(() => room("g").counter.increment(1));
  out.propertyPathRead = await run(() => room("g").counter.value);
  out.disposedPromise = await run(async () => {
    const pending = room("p").makeCounter(1);
    pending[Symbol.dispose]();
    return await run(() => pending.increment());
  });
  out.resultDispose = await run(async () => {
    const many = await room("m").makeMany();
    const steps = { keys: Object.keys(many), hasDispose: typeof many[Symbol.dispose], plain: many.plain };
    steps.a = await many.a.increment();
    steps.b = await many.b(4);
    many[Symbol.dispose]();
    steps.aAfter = await run(() => many.a.increment());
    steps.bAfter = await run(() => many.b(4));
    return steps;
  });
  out.relayedCallback = await run(async () => {
    const seen = [];
    const result = await room("one").relay(room("two"), async (n) => {
      seen.push(n);
      return -n;
    });
    return { result, seen };
  });
  out.stubPassedOn = await run(async () => {
    const counter = await room("owner").makeCounter(0);
    const third = await room("third").useTarget(counter);
    const fourth = await room("fourth").useTarget(counter);
    const mine = await counter.increment(1);
    counter[Symbol.dispose]();
    return { third, fourth, mine };
  });
  out.nestedFunctions = await run(() => room("n").nested(() => (x) => x + 1));
  out.explicitRpcStub = await run(async () => {
    const counter = new Counter();
    const stub = new RpcStub(counter);
    await room("s").useTarget(stub);
    await room("s").useTarget(stub);
    await nextTurn();
    const whileHeld = counter.disposed;
    const mine = await stub.increment();
    stub[Symbol.dispose]();
    await nextTurn();
    return { whileHeld, mine, afterDispose: counter.disposed, isRpcStub: stub instanceof RpcStub };
  });
  out.rpcStubOfNumber = await run(() => new RpcStub(5));
  out.rpcStubOfDate = await run(() => new RpcStub(new Date(0)));
  out.rpcStubWithoutNew = await run(() => RpcStub(new Counter()));
  out.stubLocalMembers = await run(async () => {
    const counter = await room("l").makeCounter(1);
    const seen = { string: String(counter), tag: Object.prototype.toString.call(counter), isClass: counter.constructor === RpcStub };
    seen.hasOwn = typeof counter.hasOwnProperty;
    counter[Symbol.dispose]();
    return seen;
  });
  out.dupTarget = await run(async () => {
    const log = [];
    const original = new Dupable(0, log);
    const result = await room("d").useTarget(original);
    await nextTurn();
    return { result, count: original.count, log };
  });
  return out;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/rpc") return json(await rpcCases(env.ROOMS));
    return json({ error: `unknown route ${pathname}` }, 404);
  },
};
