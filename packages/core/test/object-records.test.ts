import { queryObjects } from "node:v8";
import { describe, expect, test } from "vitest";
import { DurableObject, Response, Runtime, WebSocketPair, silentLogger, type WebSocket } from "../src/index.ts";

/**
 * The runtime's record of an object (its host) outlives the instance only
 * while it has something to keep: sockets, an alarm, or a caller holding its
 * stub. An object visited once and hibernated costs nothing afterwards.
 */

class Lobby extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ user: "ann" });
    return new Response(null, { status: 101, webSocket: client });
  }
}

class Counter extends DurableObject {
  count = 0;
  bump() {
    return ++this.count;
  }
  async later(at: number) {
    await this.ctx.storage.setAlarm(at);
  }
  override alarm() {}
}

describe("what runtime.objects() lists", () => {
  test("objects that were visited and hibernated with nothing to keep are not listed, whether or not garbage was collected", async () => {
    const runtime = new Runtime({ objects: { C: Counter, L: Lobby }, logger: silentLogger });
    const c = runtime.namespace<Counter>("C");
    const held = c.getByName("held");
    await held.bump();
    for (let i = 0; i < 50; i++) await c.getByName(`visitor-${i}`).bump();
    await c.getByName("alarmed").later(Date.now() + 3_600_000);
    const client = ((await runtime.namespace("L").getByName("lobby").fetch("http://do/")) as globalThis.Response & { webSocket: unknown }).webSocket;
    expect(runtime.objects()).toHaveLength(53);
    await runtime.hibernateAll();
    // No collection ran: the visitors' records may still be reachable weakly, but they hold nothing.
    expect(
      runtime
        .objects()
        .map((o) => `${o.name}:${o.state}:${o.sockets}`)
        .sort(),
    ).toEqual(["alarmed:hibernated:0", "lobby:hibernated:1"]);
    // A stub in hand still finds its object (same record), and the full view includes it.
    expect(runtime.inspect(held).counters.constructed).toBe(1);
    expect(runtime.objects({ all: true }).map((o) => o.name)).toContain("held");
    expect(client).toBeDefined();
    await runtime.close();
  });
});

const gc = (globalThis as { gc?: () => void }).gc;

/** Lets V8 collect unreachable hosts and the finalization registry run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.runIf(gc !== undefined)("records of hibernated objects", () => {
  test("2,000 objects visited once and hibernated leave no record", async () => {
    const runtime = new Runtime({ objects: { C: Counter }, logger: silentLogger });
    const ns = runtime.namespace<Counter>("C");
    for (let i = 0; i < 2_000; i++) await ns.getByName(`visitor-${i}`).bump();
    expect(runtime.objects()).toHaveLength(2_000);
    await runtime.hibernateAll();
    await collect();
    expect(runtime.objects()).toHaveLength(0);
    // A new visit starts a fresh instance (state was in memory only).
    expect(await ns.getByName("visitor-7").bump()).toBe(1);
    await runtime.close();
  });

  test("a held stub keeps its object's record: same host, counters kept, one instance per id", async () => {
    const runtime = new Runtime({ objects: { C: Counter }, logger: silentLogger });
    const ns = runtime.namespace<Counter>("C");
    const held = ns.getByName("kept");
    await held.bump();
    await runtime.hibernate(held);
    await collect();
    expect(runtime.inspect(held).counters.constructed).toBe(1);
    // Another stub for the same name reaches the same host (never a second instance).
    const other = ns.getByName("kept");
    expect(await other.bump()).toBe(1);
    expect(await held.bump()).toBe(2);
    expect(runtime.inspect(held).counters).toMatchObject({ constructed: 2, woken: 1 });
    await runtime.close();
  });

  test("an object with an alarm keeps its record while hibernated", async () => {
    const runtime = new Runtime({ objects: { C: Counter }, logger: silentLogger });
    const ns = runtime.namespace<Counter>("C");
    await ns.getByName("alarmed").later(Date.now() + 3_600_000);
    await ns.getByName("plain").bump();
    await runtime.hibernateAll();
    await collect();
    expect(runtime.objects().map((o) => o.name)).toEqual(["alarmed"]);
    await runtime.close();
  });

  test("a hibernated object with a socket keeps no closures of its own", async () => {
    const runtime = new Runtime({ objects: { L: Lobby }, logger: silentLogger });
    const ns = runtime.namespace("L");
    const clients: unknown[] = [];
    // In-process sockets: no network connection objects (and their listeners) in the count.
    const open = async (name: string) => ((await ns.getByName(name).fetch("http://do/")) as globalThis.Response & { webSocket: unknown }).webSocket;
    for (let i = 0; i < 20; i++) clients.push(await open(`warm-${i}`));
    await runtime.hibernateAll();
    await collect();
    const before = queryObjects(Function, { format: "count" }) as number;
    for (let i = 0; i < 2_000; i++) clients.push(await open(`user-${i}`));
    await runtime.hibernateAll();
    await collect();
    const perObject = ((queryObjects(Function, { format: "count" }) as number) - before) / 2_000;
    expect(runtime.objects().filter((o) => o.sockets === 1)).toHaveLength(2_020);
    expect(perObject).toBeLessThan(0.5);
    await runtime.close();
  });
});
