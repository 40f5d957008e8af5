import { SELF, env, evictAllDurableObjects, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { Room } from "../src/index.ts";
import { accepted } from "./sockets.ts";

/** Joins `room` as `name`, through the Worker (SELF) like a browser would. */
async function join(room: string, name: string) {
  return accepted(await SELF.fetch(`https://example.com/room/${room}/join?name=${name}`, { headers: { Upgrade: "websocket" } }));
}

describe("a hibernating chat room", () => {
  it("sends every message to every member", async () => {
    const alice = await join("lobby", "alice");
    const bob = await join("lobby", "bob");
    expect(alice.ws).toBeInstanceOf(WebSocket);
    expect(alice.ws.readyState).toBe(WebSocket.OPEN);
    alice.ws.send("hi");
    expect(await alice.next()).toBe("alice: hi");
    expect(await bob.next()).toBe("alice: hi");
    expect(await env.ROOM.getByName("lobby").history()).toEqual(["alice: hi"]);
  });

  it("answers a member's Close from webSocketClose: a last message, then the handler's code and reason", async () => {
    const gina = await join("leaving", "gina");
    gina.ws.close(4000, "leaving now");
    const closed = await gina.closed;
    expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 1000, reason: "bye gina" });
    expect(gina.received).toEqual(["goodbye gina"]);
  });

  it("tags each socket and keeps its attachment", async () => {
    const carol = await join("tags", "carol");
    await join("tags", "dave");
    carol.ws.send("/tags");
    expect(JSON.parse(await carol.next())).toEqual(["user:carol", "chat"]);
    const room = env.ROOM.getByName("tags");
    expect(await room.tagged("user:dave")).toEqual(["dave"]);
    expect((await room.members()).map((m) => m.name)).toEqual(["carol", "dave"]);
  });

  it("answers ping from the runtime, without waking the object", async () => {
    const stub = env.ROOM.getByName("ping");
    const erin = accepted(await stub.fetch("https://example.com/join?name=erin", { headers: { Upgrade: "websocket" } }));
    await evictDurableObject(stub);
    erin.ws.send("ping");
    expect(await erin.next()).toBe("pong");
    // Nothing woke it: evicting again finds it not running.
    await expect(evictDurableObject(stub)).rejects.toThrow("Cannot evict Durable Object: it is not currently running.");
    const answeredAt = await runInDurableObject(stub, (_room: Room, ctx) => ctx.getWebSocketAutoResponseTimestamp(ctx.getWebSockets()[0]!));
    expect(answeredAt).toBeInstanceOf(Date);
  });

  it("keeps the order of 100 messages", async () => {
    const frank = await join("order", "frank");
    const sent = Array.from({ length: 100 }, (_, i) => `message ${i}`);
    for (const message of sent) frank.ws.send(message);
    await vi.waitFor(() => expect(frank.received).toHaveLength(100), { timeout: 10_000 });
    expect(frank.received).toEqual(sent.map((m) => `frank: ${m}`));
    expect(await env.ROOM.getByName("order").history()).toEqual(sent.map((m) => `frank: ${m}`));
  });
});

describe("eviction with WebSockets", () => {
  it("hibernates sockets by default: they stay open and keep tags and attachments", async () => {
    const grace = await join("hibernate", "grace");
    const heidi = await join("hibernate", "heidi");
    const stub = env.ROOM.getByName("hibernate");
    await evictDurableObject(stub);
    heidi.ws.send("/who");
    expect(JSON.parse(await heidi.next())).toEqual([
      { name: "grace", joined: 1 },
      { name: "heidi", joined: 2 },
    ]);
    grace.ws.send("still here");
    expect(await heidi.next()).toBe("grace: still here");
  });

  it("drops sockets with webSockets: close (1006, not clean)", async () => {
    const ivan = await join("close", "ivan");
    await evictDurableObject(env.ROOM.getByName("close"), { webSockets: "close" });
    const event = await ivan.closed;
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    expect(await env.ROOM.getByName("close").members()).toEqual([]);
  });

  it("evicts every running object at once", async () => {
    const judy = await join("all-1", "judy");
    await join("all-2", "mallory");
    await evictAllDurableObjects();
    await expect(evictDurableObject(env.ROOM.getByName("all-1"))).rejects.toThrow("not currently running");
    await expect(evictDurableObject(env.ROOM.getByName("all-2"))).rejects.toThrow("not currently running");
    judy.ws.send("after");
    expect(await judy.next()).toBe("judy: after");
  });
});
