// The export table of cluster RPC by reference (rpc-references.ts), with two tables
// standing for two worker processes and the supervisor's relay between them; every
// message goes through V8's serializer, as Node's advanced IPC serialization does.
// The real processes are in cluster-rpc-reference.test.ts: this covers what needs
// exact counts (the table's limit, releases).
import { deserialize, serialize, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { RpcTarget } from "@torpor/core";
import { expect, it, vi } from "vitest";
import type { ReferenceFromWorker, ReferenceToWorker } from "../src/cluster/reference-messages.ts";
import { RpcReferences } from "../src/cluster/rpc-references.ts";

const A = 1;
const B = 2;

function pair(limit?: number) {
  const tables = new Map<number, RpcReferences>();
  const relay = (from: number) => (message: ReferenceFromWorker) => {
    const { to, ...rest } = deserialize(serialize(message)) as ReferenceFromWorker;
    // Delivered on a later turn, as IPC is.
    setImmediate(() => tables.get(to)?.onMessage({ ...rest, from } as ReferenceToWorker));
  };
  const durable = () => {
    throw new Error("no Durable Objects here");
  };
  const a = new RpcReferences({ send: relay(A), durable, ...(limit !== undefined ? { limit } : {}) });
  const b = new RpcReferences({ send: relay(B), durable, ...(limit !== undefined ? { limit } : {}) });
  tables.set(A, a).set(B, b);
  /** `value` sent by `from` to `to` as a result, as `to` receives it. */
  const send = (value: unknown, from: number, to: number) => {
    const out = deserialize(serialize(tables.get(from)!.transfer(value, "result", "the result", to))) as { value: unknown; refs?: never };
    return tables.get(to)!.receiveResult(out.value, out.refs, from) as any;
  };
  return { a, b, send };
}

class Greeter extends RpcTarget {
  disposed = 0;
  hello(who: string) {
    return `hello ${who}`;
  }
  [Symbol.dispose]() {
    this.disposed++;
  }
}

it("a stub to an RpcTarget in another table calls it; disposing the last one releases the entry and runs the disposer once", async () => {
  const { a, send } = pair();
  const greeter = new Greeter();
  const stub = send(greeter, A, B);
  expect(a.size).toBe(1);
  expect(await stub.hello("gina")).toBe("hello gina");
  const copy = stub.dup();
  stub[Symbol.dispose]();
  expect(await copy.hello("bob")).toBe("hello bob");
  copy[Symbol.dispose]();
  await vi.waitFor(() => expect(a.size).toBe(0));
  await vi.waitFor(() => expect(greeter.disposed).toBe(1));
  await expect(copy.hello("x")).rejects.toThrow("RPC stub used after being disposed.");
});

it("a function passed back as an argument calls back across both tables; the callee's copies are released when its call returns", async () => {
  const { a, b, send } = pair();
  const caller = send({ run: async (callback: (n: number) => Promise<number>) => (await callback(20)) + 1 }, A, B);
  expect(await caller.run((n: number) => n * 2)).toBe(41);
  await vi.waitFor(() => expect(b.size).toBe(0));
  caller[Symbol.dispose]();
  await vi.waitFor(() => expect(a.size).toBe(0));
});

it("a full table refuses one more reference with ERR_RPC_REFERENCE_LIMIT, releases what that value had exported, and takes more once stubs are disposed", async () => {
  const { a, send } = pair(3);
  const stubs = [send(() => 1, A, B), send(() => 2, A, B), send(() => 3, A, B)];
  expect(a.size).toBe(3);
  expect(() => a.transfer([() => 4], "result", "the result", B)).toThrow(expect.objectContaining({ code: "ERR_RPC_REFERENCE_LIMIT" }));
  expect(a.size).toBe(3);
  stubs[0][Symbol.dispose]();
  await vi.waitFor(() => expect(a.size).toBe(2));
  expect(await send(() => 5, A, B)()).toBe(5);
});

it("when the other process exits, calls waiting on it fail with ERR_RPC_REFERENCE_LOST, and its entries are released", async () => {
  const { a, b, send } = pair();
  const never = send({ wait: () => new Promise(() => {}) }, B, A);
  const waiting = expect(never.wait()).rejects.toMatchObject({ code: "ERR_RPC_REFERENCE_LOST" });
  await vi.waitFor(() => expect(b.size).toBe(1));
  const greeter = new Greeter();
  send(greeter, A, B);
  expect(a.size).toBe(1);
  a.peerExited(B);
  await waiting;
  expect(a.size).toBe(0);
  await vi.waitFor(() => expect(greeter.disposed).toBe(1));
  // And nothing more is sent to it: a call fails at once.
  await expect(never.wait()).rejects.toMatchObject({ code: "ERR_RPC_REFERENCE_LOST" });
});

it("a stub dropped without being disposed releases its entry once the garbage collector takes it", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const { a, send } = pair();
  const greeter = new Greeter();
  // In a function of its own: no reference to the stub outlives it.
  await (async () => {
    expect(await send(greeter, A, B).hello("once")).toBe("hello once");
  })();
  expect(a.size).toBe(1);
  await vi.waitFor(
    async () => {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      expect(a.size).toBe(0);
    },
    { timeout: 10_000, interval: 20 },
  );
  await vi.waitFor(() => expect(greeter.disposed).toBe(1));
});
