// RPC by reference between the worker processes of `torpor start --workers 3`: a
// function, an RpcTarget or a stub passed to an object another process owns becomes a
// stub calling back into its origin, in both directions, passed on to a third process,
// with disposal and workerd's errors after it; the table holding them for other
// processes (the torpor_rpc_references gauge) empties when stubs are disposed and when
// the process holding them is killed. Before this, every case failed with ERR_RPC_CLONE.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { startScenarios, visit as visitScenario } from "./cluster-scenarios.ts";
import type { Server } from "./helpers.ts";

const WORKER = `
import { DurableObject, RpcTarget } from "cloudflare:workers";

const disposed = [];

class Greeter extends RpcTarget {
  constructor(name) {
    super();
    this.secret = "own fields are not offered";
    this.label = name;
  }
  hello(who) { return "hello " + who + " from " + this.label + " in " + process.pid; }
  get name() { return this.label; }
  [Symbol.dispose]() { disposed.push(this.label); }
}

class Counter extends RpcTarget {
  count = 0;
  increment(by) { this.count += by; return { count: this.count, pid: process.pid }; }
  get value() { return this.count; }
}

export class Room extends DurableObject {
  pid() { return process.pid; }
  async callBack(callback, n = 2) { return await callback(n); }
  giveTarget(name) { return new Greeter(name); }
  get tool() { return new Greeter("property"); }
  giveFunction(factor) { return (n) => ({ value: n * factor, pid: process.pid }); }
  disposed() { return disposed; }
  async useTarget(counter) {
    await counter.increment(2);
    const second = await counter.increment(3);
    return { second, value: await counter.value };
  }
  keep(callback) { this.kept = callback.dup(); }
  async callKept(n) { return await this.kept(n); }
  dropKept() { this.kept[Symbol.dispose](); }
  async passOn(callback, other) { return await this.env.ROOMS.getByName(other).callBack(callback, 3); }
  async askRoom(room) { return { pid: await room.pid(), same: room.id.toString() }; }
  giveRoom(name) { return { room: this.env.ROOMS.getByName(name) }; }
}

/** An object another worker process owns (and not one of \`not\`'s), found by asking. */
async function elsewhere(env, prefix, not = []) {
  for (let i = 0; i < 64; i++) {
    const stub = env.ROOMS.getByName(prefix + "-" + i);
    const pid = await stub.pid();
    if (pid !== process.pid && !not.includes(pid)) return { stub, pid, name: prefix + "-" + i };
  }
  throw new Error("no object on another process");
}

async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: { class: error.constructor.name, code: error.code, message: error.message } };
  }
}

const scenarios = {
  async callback(env) {
    const x = await elsewhere(env, "callback");
    return {
      owner: x.pid,
      value: await x.stub.callBack((n) => ({ value: n * 21, pid: process.pid })),
      thrown: await attempt(() => x.stub.callBack(() => { throw new RangeError("not today"); })),
    };
  },
  async target(env) {
    const x = await elsewhere(env, "target");
    const greeter = await x.stub.giveTarget("gina");
    const out = {
      owner: x.pid,
      object: x.name,
      hello: await greeter.hello("bob"),
      name: await greeter.name,
      own: await attempt(() => greeter.secret()),
      pipelined: await attempt(async () => {
        const promise = x.stub.giveTarget("pipe");
        const text = await promise.hello("ann");
        promise[Symbol.dispose]();
        return text;
      }),
      property: await attempt(async () => {
        const tool = await x.stub.tool;
        const text = await tool.hello("cy");
        tool[Symbol.dispose]();
        return text;
      }),
      fn: await attempt(async () => {
        const fn = await x.stub.giveFunction(3);
        const value = await fn(14);
        fn[Symbol.dispose]();
        return value;
      }),
      argument: await attempt(async () => {
        const counter = new Counter();
        const result = await x.stub.useTarget(counter);
        return { ...result, here: counter.count };
      }),
    };
    greeter[Symbol.dispose]();
    out.afterDispose = await attempt(() => greeter.hello("bob"));
    const promise = x.stub.giveTarget("promise");
    promise[Symbol.dispose]();
    out.promiseAfterDispose = await attempt(() => promise.hello("bob"));
    return out;
  },
  async disposed(env, url) {
    return { list: await env.ROOMS.getByName(url.searchParams.get("name")).disposed() };
  },
  async keep(env) {
    const x = await elsewhere(env, "keep");
    await x.stub.keep((n) => ({ value: n + 1, pid: process.pid }));
    const kept = await x.stub.callKept(41);
    await x.stub.dropKept();
    const dropped = await attempt(() => x.stub.callKept(1));
    return { owner: x.pid, kept, dropped };
  },
  async passOn(env) {
    const x = await elsewhere(env, "pass-x");
    const y = await elsewhere(env, "pass-y", [x.pid]);
    return { owner: x.pid, third: y.pid, value: await x.stub.passOn((n) => ({ value: n * 14, pid: process.pid }), y.name) };
  },
  async durable(env) {
    const x = await elsewhere(env, "durable-x");
    const other = env.ROOMS.getByName("durable-other");
    const given = await x.stub.giveRoom("durable-given");
    return {
      owner: x.pid,
      passed: await x.stub.askRoom(other),
      otherId: other.id.toString(),
      otherPid: await other.pid(),
      returned: { pid: await given.room.pid(), name: given.room.name },
    };
  },
  async hold(env) {
    const x = await elsewhere(env, "hold");
    await x.stub.keep(() => "still here");
    return { owner: x.pid };
  },
  async lost(env) {
    const x = await elsewhere(env, "lost");
    const greeter = await x.stub.giveTarget("doomed");
    const before = await greeter.hello("you");
    process.kill(x.pid, "SIGKILL");
    return { owner: x.pid, before, after: await attempt(() => greeter.hello("you")) };
  },
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const result = await scenarios[url.pathname.slice(1)](env, url);
    return Response.json({ via: process.pid, ...result });
  },
};
`;

let dir: string;
let server: Server;
let admin: string;

beforeAll(async () => {
  ({ dir, server } = await startScenarios(WORKER, "ROOMS", "Room", ["--workers", "3", "--admin-port", "0"]));
  admin = await vi.waitFor(() => /"message":"Admin listening","url":"([^"]+)"/.exec(server.stdout())![1]!, { timeout: 10_000, interval: 20 });
}, 150_000);

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

const visit = (path: string) => visitScenario(server, path);

/** The references the workers that answer hold for the others now, summed (the torpor_rpc_references gauge), and how many answered. */
async function references(): Promise<{ sum: number; workers: number }> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const samples = [...text.matchAll(/^torpor_rpc_references\{worker="\d+"\} (\d+)$/gm)];
  return { sum: samples.reduce((sum, match) => sum + Number(match[1]), 0), workers: samples.length };
}

/** Waits until all three workers answer and hold `sum` references in all. */
async function settled(sum: number, timeout = 10_000): Promise<void> {
  await vi.waitFor(async () => expect(await references()).toEqual({ sum, workers: 3 }), { timeout, interval: 50 });
}

it("a function passed to an object on another worker process is called back in its own process; what it throws reaches the caller", async () => {
  const result = await visit("callback");
  expect(result.owner).not.toBe(result.via);
  expect(result.value).toEqual({ value: 42, pid: result.via });
  expect(result.thrown).toEqual({ error: { class: "RangeError", message: "not today" } });
}, 60_000);

it("an RpcTarget or a function returned from another worker process: its methods and getters run there, disposal runs its disposer, and a disposed stub or promise fails as on workerd", async () => {
  const result = await visit("target");
  expect(result.owner).not.toBe(result.via);
  expect(result.hello).toBe(`hello bob from gina in ${result.owner}`);
  expect(result.name).toBe("gina");
  expect(result.own).toEqual({ error: { class: "TypeError", message: 'The RPC receiver does not implement the method "secret".' } });
  expect(result.pipelined).toEqual({ value: `hello ann from pipe in ${result.owner}` });
  expect(result.fn).toEqual({ value: { value: 42, pid: result.owner } });
  // A property read (a getter) giving an RpcTarget.
  expect(result.property).toEqual({ value: `hello cy from property in ${result.owner}` });
  // An RpcTarget passed as an argument: the callee's calls run here, in the caller's process.
  expect(result.argument).toEqual({ value: { second: { count: 5, pid: result.via }, value: 5, here: 5 } });
  expect(result.afterDispose).toEqual({ error: { class: "Error", message: "RPC stub used after being disposed." } });
  expect(result.promiseAfterDispose).toEqual({ error: { class: "Error", message: "RPC promise used after being disposed." } });
  // Disposing the last stub ran each target's Symbol.dispose, in the process that owns it (the object's module state there).
  await vi.waitFor(
    async () => expect((await visit(`disposed?name=${result.object}`)).list).toEqual(expect.arrayContaining(["gina", "pipe", "promise", "property"])),
    {
      timeout: 10_000,
      interval: 50,
    },
  );
}, 60_000);

it("a stub the callee keeps with dup() calls back after the call returned, until it is disposed; the caller's table then empties", async () => {
  const result = await visit("keep");
  expect(result.owner).not.toBe(result.via);
  expect(result.kept).toEqual({ value: 42, pid: result.via });
  expect(result.dropped).toEqual({ error: { class: "Error", message: "RPC stub used after being disposed." } });
  await settled(0);
}, 60_000);

it("a stub passed on to a third object on a third worker process still calls back into its origin", async () => {
  const result = await visit("passOn");
  expect(new Set([result.via, result.owner, result.third]).size).toBe(3);
  expect(result.value).toEqual({ value: 42, pid: result.via });
  await settled(0);
}, 60_000);

it("a Durable Object stub passed to or returned from another worker process is a stub to the same object", async () => {
  const result = await visit("durable");
  expect(result.owner).not.toBe(result.via);
  expect(result.passed).toEqual({ pid: result.otherPid, same: result.otherId });
  expect(result.returned.name).toBe("durable-given");
  expect(typeof result.returned.pid).toBe("number");
}, 60_000);

it("killing the worker process that holds a stub releases its entry in the caller's table; a stub to what it held fails with ERR_RPC_REFERENCE_LOST", async () => {
  await settled(0);
  const held = await visit("hold");
  expect(await references()).toEqual({ sum: 1, workers: 3 });
  process.kill(held.owner, "SIGKILL");
  // The caller's worker lets go of the entry as soon as it hears of the exit (the killed one's successor starts empty).
  await vi.waitFor(async () => expect((await references()).sum).toBe(0), { timeout: 10_000, interval: 50 });
  await settled(0, 60_000);

  const lost = await visit("lost");
  expect(lost.before).toBe(`hello you from doomed in ${lost.owner}`);
  expect(lost.after.error).toEqual({ class: "TorporError", code: "ERR_RPC_REFERENCE_LOST", message: expect.stringMatching(/exited or was reloaded/) });
}, 90_000);
