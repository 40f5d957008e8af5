import { afterEach, expect, onTestFinished, test } from "vitest";
import { DurableObject, memoryStorage, RpcTarget, Runtime, silentLogger, type DurableObjectNamespace } from "../src/index.ts";

/**
 * A call on a handle another object exported (an `RpcTarget` B returned, a
 * function passed by reference) is a subrequest too: workerd's RPC waits for
 * the calling object's output locks whatever the stub points at. So object
 * A's write x, then a call on B's handle: the call reaches B only once x is
 * committed, and never when x's commit fails (A is reset). The commit is
 * watched (and failed) by the memory provider's beforeCommit hook.
 */

/** What reached B's handles, in order. */
const reached: string[] = [];
let atCommit: () => void = () => {};
afterEach(() => {
  reached.length = 0;
  atCommit = () => {};
});

class Counter extends RpcTarget {
  bump(from: string): string {
    reached.push(from);
    return `bumped ${from}`;
  }
}

type Env = { A: DurableObjectNamespace<A>; B: DurableObjectNamespace<B> };

class B extends DurableObject<Env> {
  counter(): Counter {
    return new Counter();
  }
  callback(): (from: string) => string {
    return (from) => {
      reached.push(from);
      return `called ${from}`;
    };
  }
}

class A extends DurableObject<Env> {
  async viaTarget(): Promise<string> {
    const counter = await this.env.B.getByName("b").counter();
    this.ctx.storage.put("x", 1);
    return counter.bump("target");
  }
  async viaFunction(): Promise<string> {
    const callback = await this.env.B.getByName("b").callback();
    this.ctx.storage.put("x", 1);
    return callback("function");
  }
}

function start() {
  const runtime = new Runtime({ objects: { A, B }, storage: memoryStorage({ beforeCommit: () => atCommit() }), logger: silentLogger });
  onTestFinished(() => runtime.close());
  return runtime.namespace<A>("A").getByName("a");
}

test("a call on an RpcTarget another object returned leaves once the caller's write is committed", async () => {
  const a = start();
  const seen: string[][] = [];
  atCommit = () => seen.push([...reached]);
  expect(await a.viaTarget()).toBe("bumped target");
  // B's own commits (none here) and A's: at A's commit, the call had not reached B.
  expect(seen).toEqual([[]]);
  expect(reached).toEqual(["target"]);
});

test("a call on a function another object returned leaves once the caller's write is committed", async () => {
  const a = start();
  const seen: string[][] = [];
  atCommit = () => seen.push([...reached]);
  expect(await a.viaFunction()).toBe("called function");
  expect(seen).toEqual([[]]);
  expect(reached).toEqual(["function"]);
});

test("a call on another object's handle after a write whose commit fails never leaves", async () => {
  const a = start();
  atCommit = () => {
    throw new Error("injected commit failure");
  };
  await expect(a.viaTarget()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(reached).toEqual([]);
});
