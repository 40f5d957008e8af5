import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ERROR_CODES, LIMITS } from "../src/protocol.ts";
import { ChatClient, join, removeDir, startChat, tempDir, wsUrl, type ChatServer } from "./helpers.ts";

let dir: string;
let server: ChatServer;
const clients: ChatClient[] = [];

beforeEach(async () => {
  dir = tempDir();
  server = await startChat(dir);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.stop();
  removeDir(dir);
  if (!server) return;
  const errors = server.logger.entries.filter((e) => e.level === "error");
  expect(errors, "the runtime logged errors").toEqual([]);
});

async function enter(room: string, name: string, uid?: string) {
  const joined = await join(server, room, name, uid);
  clients.push(joined.client);
  return joined;
}

/** Posts `count` messages as "filler" (spread over connections so the per-connection rate limit is not hit). */
async function fill(room: string, count: number): Promise<void> {
  for (let sent = 0; sent < count; ) {
    const { client } = await join(server, room, "filler");
    for (let i = 0; i < LIMITS.rateCount && sent < count; i++, sent++) await client.say(`m${sent + 1}`);
    await client.close();
  }
}

describe("worker routes", () => {
  it("serves the landing page, room page and assets", async () => {
    const landing = await fetch(`${server.url}/`);
    expect(landing.status).toBe(200);
    expect(landing.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await landing.text()).toContain("Torpor Chat");

    const room = await fetch(`${server.url}/r/lobby`);
    expect(room.status).toBe(200);
    expect(await room.text()).toContain("/assets/app.js");

    for (const [file, type] of [
      ["app.js", "text/javascript"],
      ["style.css", "text/css"],
      ["landing.js", "text/javascript"],
    ]) {
      const res = await fetch(`${server.url}/assets/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      await res.arrayBuffer();
    }
  });

  it("canonicalises, rejects and 404s what it should", async () => {
    const upper = await fetch(`${server.url}/r/Lobby`, { redirect: "manual" });
    expect(upper.status).toBe(308);
    expect(new URL(upper.headers.get("location")!).pathname).toBe("/r/lobby");

    expect((await fetch(`${server.url}/r/no%20spaces`)).status).toBe(400);
    expect((await fetch(`${server.url}/r/${"x".repeat(65)}`)).status).toBe(400);
    expect((await fetch(`${server.url}/assets/..%2Fsrc%2Fworker.ts`)).status).toBe(404);
    expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/r/lobby/ws`)).status).toBe(426);
  });

  it("refuses a WebSocket with an invalid display name", async () => {
    for (const name of ["", "   ", "x".repeat(33)]) {
      const client = new ChatClient(wsUrl(server, "lobby", name));
      await expect(client.opened).rejects.toMatchObject({ status: 400 });
    }
  });
});

describe("chat room", () => {
  it("welcomes a new member with who is here, an empty history, and their trimmed name", async () => {
    const { welcome } = await enter("lobby", "  Ada   Lovelace ");
    expect(welcome.room).toBe("lobby");
    expect(welcome.you.name).toBe("Ada Lovelace");
    expect(welcome.members).toEqual([welcome.you]);
    expect(welcome.history).toEqual([]);
    expect(welcome.hasMore).toBe(false);
  });

  it("delivers messages to everyone in the room, in order, with author and timestamp", async () => {
    const a = await enter("lobby", "Ada");
    const b = await enter("lobby", "Bob");
    await a.client.expect("joined");

    const before = Date.now();
    a.client.send({ type: "message", text: "  hello Bob  " });
    const [toA, toB] = await Promise.all([a.client.expect("message"), b.client.expect("message")]);
    expect(toA).toEqual(toB);
    expect(toB.message).toMatchObject({ text: "hello Bob", author: a.welcome.you });
    expect(toB.message.ts).toBeGreaterThanOrEqual(before - 1000);

    const reply = await Promise.all([b.client.say("hi Ada"), a.client.expect("message")]);
    expect(reply[1].message.text).toBe("hi Ada");
    expect(reply[1].message.id).toBeGreaterThan(toB.message.id);

    // Other rooms hear nothing: a newcomer elsewhere gets an empty history.
    const c = await enter("elsewhere", "Cy");
    expect(c.welcome.history).toEqual([]);
  });

  it("sends the last 50 messages on join and pages older ones by id", async () => {
    await fill("paging", 60);
    const { client, welcome } = await enter("paging", "Reader");
    expect(welcome.history).toHaveLength(LIMITS.historyOnJoin);
    expect(welcome.history[0]!.text).toBe("m11");
    expect(welcome.history.at(-1)!.text).toBe("m60");
    expect(welcome.hasMore).toBe(true);

    const oldest = welcome.history[0]!.id;
    client.send({ type: "history", before: oldest, limit: 4 });
    const page = await client.expect("history");
    expect(page.before).toBe(oldest);
    expect(page.messages.map((m) => m.text)).toEqual(["m7", "m8", "m9", "m10"]);
    expect(page.hasMore).toBe(true);

    client.send({ type: "history", before: page.messages[0]!.id });
    const last = await client.expect("history");
    expect(last.messages.map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
    expect(last.hasMore).toBe(false);

    client.send({ type: "history", before: oldest, limit: LIMITS.maxHistoryPage + 1 });
    expect(await client.expect("error")).toMatchObject({ code: ERROR_CODES.INVALID_MESSAGE });
  });

  it("announces joins and leaves with the member list", async () => {
    const a = await enter("presence", "Ada");
    const b = await enter("presence", "Bob");
    expect(b.welcome.members.map((m) => m.name)).toEqual(["Ada", "Bob"]);
    const joined = await a.client.expect("joined");
    expect(joined.member).toEqual(b.welcome.you);
    expect(joined.members.map((m) => m.name)).toEqual(["Ada", "Bob"]);

    await b.client.close();
    const left = await a.client.expect("left");
    expect(left.member).toEqual(b.welcome.you);
    expect(left.members).toEqual([a.welcome.you]);
  });

  it("counts a person with two tabs once", async () => {
    const uid = "tab-user-0001";
    const a1 = await enter("tabs", "Ada", uid);
    const b = await enter("tabs", "Bob");
    await a1.client.expect("joined");

    const a2 = await enter("tabs", "Ada", uid);
    expect(a2.welcome.you).toEqual(a1.welcome.you);
    expect(a2.welcome.members.map((m) => m.name)).toEqual(["Ada", "Bob"]);
    // No "joined" for the second tab: Bob's next frame is his own message.
    expect((await b.client.say("ping?")).message.text).toBe("ping?");
    await a1.client.expect("message");
    await a2.client.expect("message");

    // Closing one tab is not a departure; closing the last one is.
    await a1.client.close();
    expect((await b.client.say("still here?")).message.text).toBe("still here?");
    await a2.client.expect("message");
    await a2.client.close();
    expect((await b.client.expect("left")).members.map((m) => m.name)).toEqual(["Bob"]);
  });

  it("broadcasts typing to the others only", async () => {
    const a = await enter("typing", "Ada");
    const b = await enter("typing", "Bob");
    await a.client.expect("joined");
    a.client.send({ type: "typing" });
    expect(await b.client.expect("typing")).toEqual({ type: "typing", member: a.welcome.you });
    // Ada's own next frame is her message, not her typing echo.
    expect((await a.client.say("done typing")).message.text).toBe("done typing");
  });

  it.each([
    ["bad JSON", "{nope", ERROR_CODES.BAD_JSON],
    ["a JSON non-object", "[1,2]", ERROR_CODES.BAD_JSON],
    ["an unknown type", { type: "shout", text: "hi" }, ERROR_CODES.UNKNOWN_TYPE],
    ["a missing type", { text: "hi" }, ERROR_CODES.UNKNOWN_TYPE],
    ["over-long text", { type: "message", text: "x".repeat(LIMITS.maxTextLength + 1) }, ERROR_CODES.TEXT_TOO_LONG],
    ["empty text", { type: "message", text: "   " }, ERROR_CODES.INVALID_MESSAGE],
    ["a non-string text", { type: "message", text: 42 }, ERROR_CODES.INVALID_MESSAGE],
  ])("answers %s with an error to the sender only, and the room goes on", async (_what, frame, code) => {
    const a = await enter("errors", "Ada");
    const b = await enter("errors", "Bob");
    await a.client.expect("joined");

    a.client.send(frame);
    const error = await a.client.expect("error");
    expect(error.code).toBe(code);
    expect(error.message.length).toBeGreaterThan(10);

    // Bob saw nothing of it: his next frame is Ada's next message. Ada is still connected.
    const [toB] = await Promise.all([b.client.expect("message"), a.client.say("still fine")]);
    expect(toB.message.text).toBe("still fine");
  });

  it("answers a binary frame with an error", async () => {
    const a = await enter("errors", "Ada");
    a.client.ws.send(Buffer.from([1, 2, 3]));
    expect((await a.client.expect("error")).code).toBe(ERROR_CODES.BINARY_UNSUPPORTED);
  });

  it(`rate-limits a connection to ${LIMITS.rateCount} frames per ${LIMITS.rateWindowMs} ms`, async () => {
    const a = await enter("flood", "Ada");
    const b = await enter("flood", "Bob");
    await a.client.expect("joined");

    for (let i = 0; i < LIMITS.rateCount; i++) a.client.send({ type: "message", text: `flood ${i}` });
    a.client.send({ type: "message", text: "one too many" });
    for (let i = 0; i < LIMITS.rateCount; i++) {
      expect((await a.client.expect("message")).message.text).toBe(`flood ${i}`);
      expect((await b.client.expect("message")).message.text).toBe(`flood ${i}`);
    }
    expect(await a.client.expect("error")).toMatchObject({ code: ERROR_CODES.RATE_LIMITED });

    // Only Ada is limited: Bob talks, both hear him, and the rejected message was never stored.
    const [toA] = await Promise.all([a.client.expect("message"), b.client.say("calm down")]);
    expect(toA.message.text).toBe("calm down");
    const c = await enter("flood", "Cy");
    expect(c.welcome.history.map((m) => m.text)).not.toContain("one too many");
    expect(c.welcome.history).toHaveLength(LIMITS.rateCount + 1);
  });
});

describe("hibernation", () => {
  it("answers the ping heartbeat without waking the room", async () => {
    const a = await enter("sleepy", "Ada");
    await server.runtime.hibernate(server.roomId("sleepy"));
    const before = server.runtime.inspect(server.roomId("sleepy"));
    expect(before.state).toBe("hibernated");

    for (let i = 0; i < 3; i++) {
      a.client.send("ping");
      expect(await a.client.next()).toEqual({ type: "raw", raw: "pong" });
    }
    const after = server.runtime.inspect(server.roomId("sleepy"));
    expect(after.state).toBe("hibernated");
    expect(after.counters).toEqual(before.counters);
  });

  it("keeps members, names and history after hibernation (the instance is reconstructed)", async () => {
    const id = server.roomId("nap");
    const a = await enter("nap", "Ada");
    const b = await enter("nap", "Bob");
    await a.client.expect("joined");
    await Promise.all([a.client.say("before the nap"), b.client.expect("message")]);

    await server.runtime.hibernate(id);
    const asleep = server.runtime.inspect(id);
    expect(asleep.state).toBe("hibernated");
    expect(asleep.sockets).toBe(2);

    // A message wakes the room; the attachment still says who sent it.
    const [toB] = await Promise.all([b.client.expect("message"), a.client.say("after the nap")]);
    expect(toB.message.author).toEqual(a.welcome.you);
    const awake = server.runtime.inspect(id);
    expect(awake.state).toBe("live");
    expect(awake.counters.constructed).toBe(asleep.counters.constructed + 1);
    expect(awake.counters.woken).toBeGreaterThanOrEqual(1);

    // Hibernate again: a newcomer sees both members and the whole history.
    await server.runtime.hibernate(id);
    const c = await enter("nap", "Cy");
    expect(c.welcome.members.map((m) => m.name)).toEqual(["Ada", "Bob", "Cy"]);
    expect(c.welcome.history.map((m) => m.text)).toEqual(["before the nap", "after the nap"]);
    await a.client.expect("joined");
    await b.client.expect("joined");

    // A departure while asleep is announced with the right name and member list.
    await server.runtime.hibernate(id);
    await b.client.close();
    const left = await a.client.expect("left");
    expect(left.member).toEqual(b.welcome.you);
    expect(left.members.map((m) => m.name)).toEqual(["Ada", "Cy"]);
  });

  it("keeps the rate-limit window across hibernation", async () => {
    const id = server.roomId("limits");
    const a = await enter("limits", "Ada");
    for (let i = 0; i < LIMITS.rateCount; i++) await a.client.say(`n${i}`);
    await server.runtime.hibernate(id);
    a.client.send({ type: "message", text: "over" });
    expect(await a.client.expect("error")).toMatchObject({ code: ERROR_CODES.RATE_LIMITED });
  });
});

describe("restart", () => {
  it("keeps history across a runtime restart on the same data directory", async () => {
    const a = await enter("durable", "Ada");
    await a.client.say("written before restart");
    await a.client.say("second");

    await server.stop();
    // Graceful shutdown closes sockets with 1012 (service restart) so clients reconnect.
    expect((await a.client.closed).code).toBe(1012);

    const previous = server;
    server = await startChat(dir);
    expect(previous.logger.entries.filter((e) => e.level === "error")).toEqual([]);
    const b = await enter("durable", "Bob");
    expect(b.welcome.history.map((m) => [m.text, m.author.name])).toEqual([
      ["written before restart", "Ada"],
      ["second", "Ada"],
    ]);
    expect(b.welcome.members.map((m) => m.name)).toEqual(["Bob"]);
    const next = await b.client.say("after restart");
    expect(next.message.id).toBeGreaterThan(b.welcome.history.at(-1)!.id);
  });
});
