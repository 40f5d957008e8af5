import { describe, expect, test } from "vitest";
import { DurableObject, Response, VirtualClock, WebSocketPair, type DurableObjectState, type WebSocket } from "../src/index.ts";
import { Room, constructed } from "./fixtures.ts";
import { connect, startRuntime } from "./helpers.ts";

describe("hibernation", () => {
  test("an idle object hibernates after hibernateAfterMs; sockets stay open; the next message wakes a new instance", async () => {
    const clock = new VirtualClock();
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room }, clock, hibernateAfterMs: 10_000 });
    const a = await connect(`${wsUrl}/ROOM/idle?tag=t1&user=ann`);
    const b = await connect(`${wsUrl}/ROOM/idle?user=bob`);
    const stub = runtime.namespace("ROOM").getByName("idle");
    a.send("hello");
    expect(await a.next()).toBe("echo:hello");
    await clock.advance(9_999);
    expect(runtime.inspect(stub).state).toBe("live");
    await clock.advance(1);
    expect(runtime.inspect(stub).state).toBe("hibernated");
    expect(runtime.inspect(stub).sockets).toBe(2);
    expect(a.ws.readyState).toBe(a.ws.OPEN);

    const before = constructed.get("idle")!;
    a.send("whoami");
    expect(JSON.parse(String(await a.next()))).toEqual({ user: "ann", joined: 1 });
    expect(constructed.get("idle")).toBe(before + 1);
    expect(runtime.inspect(stub).counters).toMatchObject({ constructed: 2, woken: 1, evicted: 1 });
    a.send("tags");
    expect(JSON.parse(String(await a.next()))).toEqual(["t1"]);
    a.send("count");
    expect(await a.next()).toBe("2");
    a.send("broadcast after wake");
    expect(await b.next()).toBe("from ann: after wake");
  });

  test("activity resets the idle timer", async () => {
    const clock = new VirtualClock();
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room }, clock, hibernateAfterMs: 1_000 });
    const a = await connect(`${wsUrl}/ROOM/busy`);
    const stub = runtime.namespace("ROOM").getByName("busy");
    for (let i = 0; i < 5; i++) {
      await clock.advance(600);
      a.send(`m${i}`);
      expect(await a.next()).toBe(`echo:m${i}`);
      expect(runtime.inspect(stub).state).toBe("live");
    }
    await clock.advance(1_000);
    expect(runtime.inspect(stub).state).toBe("hibernated");
  });

  test("after hibernation, blockConcurrencyWhile in the constructor finishes before the event", async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    class Slow extends DurableObject {
      constructor(ctx: DurableObjectState, env: unknown) {
        super(ctx, env);
        order.push("constructor");
        void ctx.blockConcurrencyWhile(async () => {
          await new Promise<void>((r) => (release = r));
          order.push("loaded");
        });
      }
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
      }
      override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
        order.push(`message ${String(message)}`);
        ws.send("done");
      }
    }
    const { runtime, wsUrl } = await startRuntime({ objects: { SLOW: Slow } });
    const pending = connect(`${wsUrl}/SLOW/x`);
    await vitestWaitFor(() => order.includes("constructor"));
    release();
    const client = await pending;
    const stub = runtime.namespace("SLOW").getByName("x");
    await runtime.hibernate(stub);
    order.length = 0;
    client.send("m1");
    await vitestWaitFor(() => order.includes("constructor"));
    expect(order).toEqual(["constructor"]);
    release();
    expect(await client.next()).toBe("done");
    expect(order).toEqual(["constructor", "loaded", "message m1"]);
  });

  test("the hibernated instance is garbage-collected", async () => {
    let ref: WeakRef<object> | undefined;
    class Tracked extends DurableObject {
      payload = new Array(10_000).fill("x");
      constructor(ctx: DurableObjectState, env: unknown) {
        super(ctx, env);
        ref ??= new WeakRef(this);
      }
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
      }
      override webSocketMessage(ws: WebSocket) {
        ws.send("pong");
      }
    }
    const { runtime, wsUrl } = await startRuntime({ objects: { T: Tracked } });
    const client = await connect(`${wsUrl}/T/gc`);
    client.send("x");
    expect(await client.next()).toBe("pong");
    await runtime.hibernate(runtime.namespace("T").getByName("gc"));
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, "tests run with --expose-gc").toBeTypeOf("function");
    // Finalization needs a few turns and collections; bounded, not timed.
    for (let i = 0; i < 20 && ref!.deref() !== undefined; i++) {
      await new Promise((r) => setImmediate(r));
      gc!();
    }
    expect(ref!.deref()).toBeUndefined();
    client.send("x");
    expect(await client.next()).toBe("pong");
  });

  test("protocol pings are answered without waking the object", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const a = await connect(`${wsUrl}/ROOM/ping`);
    const stub = runtime.namespace("ROOM").getByName("ping");
    await runtime.hibernate(stub);
    const pong = new Promise<Buffer>((resolve) => a.ws.once("pong", resolve));
    a.ws.ping("beat");
    expect((await pong).toString()).toBe("beat");
    expect(runtime.inspect(stub)).toMatchObject({ state: "hibernated", counters: { constructed: 1 } });
  });

  test("a standard-accepted socket pins the object; hibernate() says why", async () => {
    const clock = new VirtualClock();
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room }, clock, hibernateAfterMs: 100 });
    const a = await connect(`${wsUrl}/ROOM/pinned?standard=1`);
    a.send("hi");
    expect(await a.next()).toBe("std:hi");
    const stub = runtime.namespace("ROOM").getByName("pinned");
    await clock.advance(1_000);
    expect(runtime.inspect(stub).state).toBe("live");
    expect(runtime.inspect(stub).blockers).toEqual([expect.stringMatching(/1 WebSocket\(s\) accepted with ws.accept\(\)/)]);
    await expect(runtime.hibernate(stub)).rejects.toMatchObject({ code: "ERR_NOT_HIBERNATABLE" });
    a.close();
    await a.closed;
    await vitestWaitFor(() => runtime.inspect(stub).blockers.length === 0);
    await clock.advance(100);
    expect(runtime.inspect(stub).state).toBe("hibernated");
  });

  test("waitUntil pins the object until its promise settles", async () => {
    let resolve: () => void = () => {};
    class W extends DurableObject {
      start() {
        this.ctx.waitUntil(new Promise<void>((r) => (resolve = r)));
      }
    }
    const { runtime } = await startRuntime({ objects: { W } });
    const stub = runtime.namespace<W>("W").getByName("w");
    await stub.start();
    await expect(runtime.hibernate(stub)).rejects.toThrow(/waitUntil/);
    resolve();
    await vitestWaitFor(() => runtime.inspect(stub).blockers.length === 0);
    await runtime.hibernate(stub);
    expect(runtime.inspect(stub).state).toBe("hibernated");
  });

  test("maxLiveObjects evicts the least recently used hibernatable objects", async () => {
    class C extends DurableObject {
      hit() {
        return this.ctx.id.name;
      }
    }
    const { runtime } = await startRuntime({ objects: { C }, maxLiveObjects: 3 });
    const ns = runtime.namespace<C>("C");
    for (const name of ["a", "b", "c"]) await ns.getByName(name).hit();
    await ns.getByName("a").hit();
    await ns.getByName("d").hit();
    const states = Object.fromEntries(["a", "b", "c", "d"].map((n) => [n, runtime.inspect(ns.getByName(n)).state]));
    expect(states).toEqual({ a: "live", b: "hibernated", c: "live", d: "live" });
  });
});

async function vitestWaitFor(check: () => boolean): Promise<void> {
  const { vi } = await import("vitest");
  await vi.waitFor(() => {
    if (!check()) throw new Error("not yet");
  });
}
