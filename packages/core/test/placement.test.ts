// The placement seam: a host directory plugs into a Runtime through its `directory`
// option alone. Two runtimes in one process stand in for two nodes here; each one's
// directory routes what it does not own to the other through the other's LocalTarget,
// as a cluster or multi-node directory does over its own transport.
import { expect, test } from "vitest";
import { LocalTarget, type HostDirectory } from "../src/cluster/index.ts";
import { DurableObject, hostOf, Runtime, silentLogger } from "../src/index.ts";
import type { ObjectKey } from "../src/storage/index.ts";

class Counter extends DurableObject {
  count = 0;
  label = "counter";
  bump() {
    return ++this.count;
  }
  override async fetch(request: Request) {
    return new Response(`${new URL(request.url).pathname} ${++this.count}`);
  }
}

type Node = "a" | "b";

/** Two nodes: who owns each object (by id, as a real directory decides) is a table the test changes by name. */
function twoNodes() {
  const owners = new Map<string, Node>();
  const runtimes = {} as Record<Node, Runtime>;
  const ownerOf = (key: ObjectKey): Node => owners.get(key.id) ?? "a";
  const directory = (self: Node): HostDirectory => {
    const there = (key: ObjectKey) => new LocalTarget(runtimes[ownerOf(key)].hostForKey(key));
    return {
      isLocal: (key) => ownerOf(key) === self,
      fetch: (key, request) => there(key).fetch(request),
      call: (key, method, args) => there(key).call(method, args),
      read: (key, property) => there(key).read(property),
    };
  };
  for (const node of ["a", "b"] as const) {
    runtimes[node] = new Runtime({ objects: { COUNTER: Counter }, logger: silentLogger, directory: directory(node) });
  }
  const owner = { set: (name: string, node: Node) => owners.set(runtimes.a.namespace("COUNTER").idFromName(name).toString(), node) };
  return { owner, a: runtimes.a, b: runtimes.b };
}

test("a stub reaches an object another directory node owns: fetch, RPC and property reads run there only", async () => {
  const { owner, a, b } = twoNodes();
  owner.set("remote", "b");
  const stub = a.namespace<Counter>("COUNTER").getByName("remote");
  expect(await stub.bump()).toBe(1);
  expect(await (await stub.fetch("http://do/path")).text()).toBe("/path 2");
  expect(await stub.label).toBe("counter");
  // Nothing of it exists on a: no host behind the stub, none in the runtime.
  expect(hostOf(stub)).toBeUndefined();
  expect(a.objects()).toEqual([]);
  expect(b.objects()).toEqual([expect.objectContaining({ name: "remote", state: "live", counters: expect.objectContaining({ events: 3 }) })]);
  // And a refuses to host it when asked by id.
  expect(() => a.inspect(a.namespace("COUNTER").idFromName("remote"))).toThrow(expect.objectContaining({ code: "ERR_OBJECT_NOT_LOCAL" }));
  await Promise.all([a.close(), b.close()]);
});

test("ownership is asked on every call: an object that moves away and back gets a fresh host, not the one that left", async () => {
  const { owner, a, b } = twoNodes();
  owner.set("mover", "b");
  const stub = b.namespace<Counter>("COUNTER").getByName("mover");
  expect(await stub.bump()).toBe(1);
  const first = hostOf(stub)!;

  // b gives it up (as a reload does): the host finishes and leaves b's table; a owns it now.
  await first.exportSockets();
  b.forget(first);
  owner.set("mover", "a");
  expect(hostOf(stub)).toBeUndefined();
  expect(await stub.bump()).toBe(1);
  expect(a.objects()).toEqual([expect.objectContaining({ name: "mover" })]);

  // Back to b: the same stub gets a new host on b, and the call runs there (the old host shut down).
  owner.set("mover", "b");
  expect(await stub.bump()).toBe(1);
  expect(hostOf(stub)).not.toBe(first);
  expect(hostOf(stub)?.counters.constructed).toBe(1);
  await Promise.all([a.close(), b.close()]);
});

test("without a directory every object is local: the stub holds its host, which keeps its counters", async () => {
  const runtime = new Runtime({ objects: { COUNTER: Counter }, logger: silentLogger });
  const stub = runtime.namespace<Counter>("COUNTER").getByName("here");
  const host = hostOf(stub);
  expect(host).toBeDefined();
  expect(await stub.bump()).toBe(1);
  await runtime.hibernate(stub);
  expect(await stub.bump()).toBe(1);
  expect(hostOf(stub)).toBe(host);
  expect(runtime.inspect(stub).counters).toMatchObject({ constructed: 2, woken: 1 });
  await runtime.close();
});
