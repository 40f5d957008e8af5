/**
 * The chat room and Worker on @torpor/testing: one test runtime per test
 * (SQLite in a temp directory, virtual clock, logs recorded instead of
 * printed). The Worker's routes are tested over real HTTP/TCP; the room's
 * logic runs twice, over TCP and over the in-memory transport, always
 * through the Worker's `/r/<room>/ws` route.
 *
 * Time: the room reads `Date.now()` for message timestamps and its rate
 * window, which the virtual clock does not move. The rate-limit tests pin
 * `Date` with vitest's fake timers (nothing else faked), so the window cannot
 * roll over on a slow machine and is moved on explicitly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { sqliteStorage } from "@torpor/storage-sqlite";
import {
  createTestRuntime,
  evictDurableObject,
  lifecycle,
  recordingLogger,
  type RecordingLogger,
  type TestRuntime,
  type TestWebSocket,
  type Transport,
} from "@torpor/testing";
import "@torpor/testing/matchers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ERROR_CODES, LIMITS, type ServerFrame } from "../src/protocol.ts";
import { loadChatApp, type ChatApp } from "../src/chat-app.ts";
import { ChatRoom } from "../src/worker.ts";

const objects = { CHAT_ROOM: ChatRoom };
type ChatRuntime = TestRuntime<typeof objects>;

/** Runtimes, apps and directories of the running test, checked and removed after it. */
const runtimes: ChatRuntime[] = [];
const apps: Array<{ app: ChatApp; logger: RecordingLogger }> = [];
const dirs: string[] = [];

afterEach(async () => {
  vi.useRealTimers();
  const open = runtimes.splice(0);
  try {
    for (const t of open) await t.close(); // idempotent; the harness would close them too
    const loaded = apps.splice(0);
    for (const { app } of loaded) await app.close();
    for (const t of open)
      expect(
        t.logs.filter((e) => e.level === "error"),
        "the runtime logged errors",
      ).toEqual([]);
    for (const { logger } of loaded)
      expect(
        logger.entries.filter((e) => e.level === "error" || e.level === "warn"),
        "the config or the assets logged warnings",
      ).toEqual([]);
  } finally {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
});

/** The chat app (rooms, and the Worker entry behind the static assets of wrangler.jsonc) on a fresh test runtime. */
async function chatRuntime(options: { transport?: Transport; dir?: string } = {}): Promise<ChatRuntime> {
  const dataDir = options.dir ?? mkdtempSync(joinPath(tmpdir(), "torpor-chat-app-"));
  if (options.dir === undefined) dirs.push(dataDir);
  const logger = recordingLogger();
  const app = await loadChatApp({ dataDir, logger });
  apps.push({ app, logger });
  const t = createTestRuntime({
    objects,
    fetch: app.fetch,
    env: app.env,
    transport: options.transport ?? "memory",
    ...(options.dir === undefined ? {} : { storage: sqliteStorage({ dir: options.dir, synchronous: "OFF" }) }),
  });
  runtimes.push(t);
  return t;
}

type Frame<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/** A chat client over a harness test socket: JSON frames in and out, each awaited by type. */
class ChatClient {
  constructor(readonly ws: TestWebSocket) {}

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame, which must be of `type` (anything else fails the test with the frame shown). */
  async expect<T extends ServerFrame["type"]>(type: T): Promise<Frame<T>> {
    const raw = await this.ws.next();
    if (typeof raw !== "string") throw new Error(`expected a "${type}" frame, got ${raw.byteLength} binary bytes`);
    const frame = JSON.parse(raw) as ServerFrame;
    if (frame.type !== type) throw new Error(`expected a "${type}" frame, got ${raw}`);
    return frame as Frame<T>;
  }

  /** Sends a chat message and waits for this client's own copy of the broadcast. */
  async say(text: string): Promise<Frame<"message">> {
    this.send({ type: "message", text });
    return this.expect("message");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === 3) return;
    this.ws.close(1000, "done");
    await this.ws.closed;
  }
}

function roomPath(room: string, name: string, uid?: string): string {
  const params = new URLSearchParams({ name });
  if (uid !== undefined) params.set("uid", uid);
  return `/r/${room}/ws?${params}`;
}

/** Joins `room` through the Worker's route and waits for the welcome. */
async function enter(t: ChatRuntime, room: string, name: string, uid?: string): Promise<{ client: ChatClient; welcome: Frame<"welcome"> }> {
  const client = new ChatClient(await t.connect(roomPath(room, name, uid)));
  return { client, welcome: await client.expect("welcome") };
}

/** Posts `count` messages as "filler" (spread over connections so the per-connection rate limit is not hit). */
async function fill(t: ChatRuntime, room: string, count: number): Promise<void> {
  for (let sent = 0; sent < count; ) {
    const { client } = await enter(t, room, "filler");
    for (let i = 0; i < LIMITS.rateCount && sent < count; i++, sent++) await client.say(`m${sent + 1}`);
    await client.close();
  }
}

/** Freezes `Date` (only `Date`: timers, the virtual clock and I/O are untouched) so the room's rate window is under the test's control. */
function freezeDate(t: ChatRuntime): void {
  vi.useFakeTimers({ toFake: ["Date"], now: t.clock.now() });
}

describe("worker routes (HTTP over TCP)", () => {
  it("serves the landing page, room page and assets", async () => {
    const { url } = await (await chatRuntime()).listen();
    const landing = await fetch(new URL("/", url));
    expect(landing.status).toBe(200);
    expect(landing.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await landing.text()).toContain("Torpor Chat");

    const room = await fetch(new URL("/r/lobby", url));
    expect(room.status).toBe(200);
    expect(await room.text()).toContain("/assets/app.js");

    for (const [path, type] of [
      ["/assets/app.js", "text/javascript"],
      ["/assets/style.css", "text/css"],
      ["/assets/landing.js", "text/javascript"],
      ["/favicon.svg", "image/svg+xml"],
    ] as const) {
      const res = await fetch(new URL(path, url));
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      await res.arrayBuffer();
    }
  });

  it("serves the pages as static assets (wrangler.jsonc): ETags, 304s and public/_headers, the room page through env.ASSETS", async () => {
    const { url } = await (await chatRuntime()).listen();
    for (const path of ["/", "/assets/app.js", "/r/lobby", "/r/random"]) {
      const res = await fetch(new URL(path, url));
      expect(res.status, path).toBe(200);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      const etag = res.headers.get("etag");
      expect(etag, path).toMatch(/^"[0-9a-f]+"$/);
      await res.arrayBuffer();
      const again = await fetch(new URL(path, url), { headers: { "if-none-match": etag! } });
      expect(again.status, path).toBe(304);
      await again.arrayBuffer();
    }
    // Every room has the one page; it is not a page of its own.
    const page = await (await fetch(new URL("/r/lobby", url))).text();
    expect(await (await fetch(new URL("/r/random", url))).text()).toBe(page);
    expect((await fetch(new URL("/room", url))).status).toBe(404);
    // The Worker's own answers carry no asset headers.
    expect((await fetch(new URL("/nope", url))).headers.get("x-content-type-options")).toBeNull();
  });

  it("canonicalises, rejects and 404s what it should", async () => {
    const { url } = await (await chatRuntime()).listen();
    const at = (path: string) => `${url.replace(/\/$/, "")}${path}`;
    const upper = await fetch(at("/r/Lobby"), { redirect: "manual" });
    expect(upper.status).toBe(308);
    expect(new URL(upper.headers.get("location")!).pathname).toBe("/r/lobby");

    expect((await fetch(at("/r/no%20spaces"))).status).toBe(400);
    expect((await fetch(at(`/r/${"x".repeat(65)}`))).status).toBe(400);
    expect((await fetch(at("/assets/..%2Fsrc%2Fworker.ts"))).status).toBe(404);
    expect((await fetch(at("/assets/missing.js"))).status).toBe(404);
    expect((await fetch(at("/nope"))).status).toBe(404);
    expect((await fetch(at("/r/lobby/ws"))).status).toBe(426);
  });

  it("refuses a WebSocket with an invalid display name", async () => {
    const t = await chatRuntime({ transport: "tcp" });
    for (const name of ["", "   ", "x".repeat(33)]) {
      await expect(t.connect(roomPath("lobby", name))).rejects.toMatchObject({
        code: "ERR_TEST_CONNECT_FAILED",
        message: expect.stringMatching(/answered 400: .*invalid_name/),
      });
    }
    expect(t.lifecycle(t.env.CHAT_ROOM.getByName("lobby")).sockets).toBe(0);
  });
});

describe.each<Transport>(["memory", "tcp"])("over %s", (transport) => {
  describe("chat room", () => {
    it("welcomes a new member with who is here, an empty history, and their trimmed name", async () => {
      const t = await chatRuntime({ transport });
      const { client, welcome } = await enter(t, "lobby", "  Ada   Lovelace ");
      expect(client.ws.transport).toBe(transport);
      expect(welcome.room).toBe("lobby");
      expect(welcome.you.name).toBe("Ada Lovelace");
      expect(welcome.members).toEqual([welcome.you]);
      expect(welcome.history).toEqual([]);
      expect(welcome.hasMore).toBe(false);
    });

    it("delivers messages to everyone in the room, in order, with author and timestamp", async () => {
      const t = await chatRuntime({ transport });
      const a = await enter(t, "lobby", "Ada");
      const b = await enter(t, "lobby", "Bob");
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
      const c = await enter(t, "elsewhere", "Cy");
      expect(c.welcome.history).toEqual([]);
    });

    it("sends the last 50 messages on join and pages older ones by id", async () => {
      const t = await chatRuntime({ transport });
      await fill(t, "paging", 60);
      const { client, welcome } = await enter(t, "paging", "Reader");
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
      const t = await chatRuntime({ transport });
      const a = await enter(t, "presence", "Ada");
      const b = await enter(t, "presence", "Bob");
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
      const t = await chatRuntime({ transport });
      const uid = "tab-user-0001";
      const a1 = await enter(t, "tabs", "Ada", uid);
      const b = await enter(t, "tabs", "Bob");
      await a1.client.expect("joined");

      const a2 = await enter(t, "tabs", "Ada", uid);
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

    it("shows a new name in the others' member lists, though the old socket is still open", async () => {
      const t = await chatRuntime({ transport });
      const uid = "rename-user-01";
      const old = await enter(t, "rename", "Ada", uid);
      const b = await enter(t, "rename", "Bob");
      await old.client.expect("joined");

      // The page reconnects under the new name; its old socket may close after the new one joins.
      const renamed = await enter(t, "rename", "Ada Lovelace", uid);
      expect(renamed.welcome.members.map((m) => m.name)).toEqual(["Ada Lovelace", "Bob"]);
      const toBob = await b.client.expect("renamed");
      expect(toBob).toEqual({ type: "renamed", member: { id: uid, name: "Ada Lovelace" }, from: "Ada", members: renamed.welcome.members });
      expect((await old.client.expect("renamed")).member.name).toBe("Ada Lovelace");

      // The old socket going away changes nothing more: Bob's next frame is his own message.
      await old.client.close();
      expect((await b.client.say("hi Ada Lovelace")).message.text).toBe("hi Ada Lovelace");
      await renamed.client.expect("message");
    });

    it("shows the remaining tab's name again when the renamed tab closes first", async () => {
      const t = await chatRuntime({ transport });
      const uid = "rename-user-02";
      const first = await enter(t, "rename-back", "Ada", uid);
      const b = await enter(t, "rename-back", "Bob");
      await first.client.expect("joined");
      const second = await enter(t, "rename-back", "Ada L", uid);
      await b.client.expect("renamed");

      await second.client.close();
      const back = await b.client.expect("renamed");
      expect(back).toMatchObject({ member: { id: uid, name: "Ada" }, from: "Ada L" });
      expect(back.members.map((m) => m.name)).toEqual(["Ada", "Bob"]);
    });

    it("broadcasts typing to the others only", async () => {
      const t = await chatRuntime({ transport });
      const a = await enter(t, "typing", "Ada");
      const b = await enter(t, "typing", "Bob");
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
      const t = await chatRuntime({ transport });
      const a = await enter(t, "errors", "Ada");
      const b = await enter(t, "errors", "Bob");
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
      const t = await chatRuntime({ transport });
      const a = await enter(t, "errors", "Ada");
      a.client.ws.send(new Uint8Array([1, 2, 3]));
      expect((await a.client.expect("error")).code).toBe(ERROR_CODES.BINARY_UNSUPPORTED);
    });

    it(`rate-limits a connection to ${LIMITS.rateCount} frames per ${LIMITS.rateWindowMs} ms`, async () => {
      const t = await chatRuntime({ transport });
      freezeDate(t);
      const a = await enter(t, "flood", "Ada");
      const b = await enter(t, "flood", "Bob");
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
      const c = await enter(t, "flood", "Cy");
      expect(c.welcome.history.map((m) => m.text)).not.toContain("one too many");
      expect(c.welcome.history).toHaveLength(LIMITS.rateCount + 1);
    });
    it("does not count typing indicators toward the rate limit, and relays at most one per second between messages", async () => {
      const t = await chatRuntime({ transport });
      freezeDate(t);
      const a = await enter(t, "typist", "Ada");
      const b = await enter(t, "typist", "Bob");
      await a.client.expect("joined");

      // As the page does, a typing indicator before each message (here twice: the repeat is dropped).
      for (let i = 0; i < LIMITS.rateCount; i++) {
        a.client.send({ type: "typing" });
        a.client.send({ type: "typing" });
        a.client.send({ type: "message", text: `quick ${i}` });
      }
      a.client.send({ type: "message", text: "one too many" });
      for (let i = 0; i < LIMITS.rateCount; i++) {
        expect(await b.client.expect("typing")).toMatchObject({ member: a.welcome.you });
        expect((await b.client.expect("message")).message.text).toBe(`quick ${i}`);
        expect((await a.client.expect("message")).message.text).toBe(`quick ${i}`);
      }
      expect(await a.client.expect("error")).toMatchObject({ code: ERROR_CODES.RATE_LIMITED });

      // Without a message in between, the next indicator waits out the interval.
      a.client.send({ type: "typing" });
      expect(await b.client.expect("typing")).toMatchObject({ member: a.welcome.you });
      a.client.send({ type: "typing" });
      vi.setSystemTime(Date.now() + LIMITS.typingIntervalMs);
      a.client.send({ type: "typing" });
      a.client.send({ type: "message", text: "still limited" });
      // Bob gets one more typing (the one inside the interval was dropped) and nothing else from Ada.
      expect(await b.client.expect("typing")).toMatchObject({ member: a.welcome.you });
      expect(await a.client.expect("error")).toMatchObject({ code: ERROR_CODES.RATE_LIMITED });
      expect((await b.client.say("over to me")).message.text).toBe("over to me");
    });
  });

  describe("hibernation", () => {
    it("answers the ping heartbeat without waking the room", async () => {
      const t = await chatRuntime({ transport });
      const room = t.env.CHAT_ROOM.getByName("sleepy");
      const a = await enter(t, "sleepy", "Ada");
      await evictDurableObject(room);
      expect(room).toBeHibernated();
      const before = lifecycle(room);
      expect(before).toMatchObject({ state: "hibernated", sockets: 1 });

      for (let i = 0; i < 3; i++) {
        a.client.send("ping");
        expect(await a.client.ws.next()).toBe("pong");
      }
      expect(room).toBeHibernated();
      expect(lifecycle(room)).toEqual(before);
    });

    it("keeps members, names and history after hibernation (the instance is reconstructed)", async () => {
      const t = await chatRuntime({ transport });
      const room = t.env.CHAT_ROOM.getByName("nap");
      const a = await enter(t, "nap", "Ada");
      const b = await enter(t, "nap", "Bob");
      await a.client.expect("joined");
      await Promise.all([a.client.say("before the nap"), b.client.expect("message")]);

      await t.evictDurableObject(room);
      expect(room).toBeHibernated();
      const asleep = t.lifecycle(room);
      expect(asleep.sockets).toBe(2);

      // A message wakes the room; the attachment still says who sent it.
      const [toB] = await Promise.all([b.client.expect("message"), a.client.say("after the nap")]);
      expect(toB.message.author).toEqual(a.welcome.you);
      expect(t.lifecycle(room)).toMatchObject({ state: "live", constructed: asleep.constructed + 1, woken: asleep.woken + 1 });

      // Hibernate again: a newcomer sees both members and the whole history.
      await t.evictDurableObject(room);
      expect(room).toBeHibernated();
      const c = await enter(t, "nap", "Cy");
      expect(c.welcome.members.map((m) => m.name)).toEqual(["Ada", "Bob", "Cy"]);
      expect(c.welcome.history.map((m) => m.text)).toEqual(["before the nap", "after the nap"]);
      await a.client.expect("joined");
      await b.client.expect("joined");

      // A departure while asleep is announced with the right name and member list.
      await t.evictDurableObject(room);
      expect(room).toBeHibernated();
      await b.client.close();
      const left = await a.client.expect("left");
      expect(left.member).toEqual(b.welcome.you);
      expect(left.members.map((m) => m.name)).toEqual(["Ada", "Cy"]);
      expect(t.lifecycle(room)).toMatchObject({ constructed: asleep.constructed + 3, woken: asleep.woken + 3, evicted: 3 });
    });

    it("a room that is evicted between messages and still has its members and history", async () => {
      const t = await chatRuntime({ transport });
      const room = t.env.CHAT_ROOM.getByName("evicted");
      const a = await enter(t, "evicted", "Ada");
      const b = await enter(t, "evicted", "Bob");
      await a.client.expect("joined");

      const said: string[] = [];
      for (let i = 0; i < 4; i++) {
        await t.evictDurableObject(room);
        expect(room).toBeHibernated();
        const constructed = t.lifecycle(room).constructed;

        const [speaker, listener] = i % 2 === 0 ? [a, b] : [b, a];
        const text = `${speaker.welcome.you.name} #${i}`;
        const [own, heard] = await Promise.all([speaker.client.say(text), listener.client.expect("message")]);
        said.push(text);
        expect(heard).toEqual(own);
        expect(heard.message.author).toEqual(speaker.welcome.you); // who sent it came from the socket's attachment
        expect(t.lifecycle(room)).toMatchObject({ state: "live", constructed: constructed + 1 });
      }

      await t.evictDurableObject(room);
      expect(room).toBeHibernated();
      const c = await enter(t, "evicted", "Cy");
      expect(c.welcome.members).toEqual([a.welcome.you, b.welcome.you, c.welcome.you]);
      expect(c.welcome.history.map((m) => [m.text, m.author])).toEqual(said.map((text, i) => [text, (i % 2 === 0 ? a : b).welcome.you]));
      expect(t.lifecycle(room)).toMatchObject({ sockets: 3, evicted: 5, woken: 5 });
    });

    it("keeps the rate-limit window across hibernation", async () => {
      const t = await chatRuntime({ transport });
      freezeDate(t);
      const room = t.env.CHAT_ROOM.getByName("limits");
      const a = await enter(t, "limits", "Ada");
      for (let i = 0; i < LIMITS.rateCount; i++) await a.client.say(`n${i}`);
      await t.evictDurableObject(room);
      expect(room).toBeHibernated();
      a.client.send({ type: "message", text: "over" });
      expect(await a.client.expect("error")).toMatchObject({ code: ERROR_CODES.RATE_LIMITED });

      // The window is time, not a count: once it has passed, Ada may talk again.
      await t.evictDurableObject(room);
      vi.setSystemTime(t.clock.now() + LIMITS.rateWindowMs);
      expect((await a.client.say("calmer now")).message.text).toBe("calmer now");
    });
  });
});

describe("restart", () => {
  it("keeps history across a runtime restart on the same data directory", async () => {
    // Two test runtimes, one after the other, on one SQLite directory this test owns.
    const dir = mkdtempSync(joinPath(tmpdir(), "torpor-chat-"));
    dirs.push(dir);
    const first = await chatRuntime({ transport: "tcp", dir });
    const a = await enter(first, "durable", "Ada");
    await a.client.say("written before restart");
    await a.client.say("second");

    await first.close();
    // Graceful shutdown closes sockets with 1012 (service restart) so clients reconnect.
    expect((await a.client.ws.closed).code).toBe(1012);
    expect(first.logs.filter((e) => e.level === "error")).toEqual([]);

    const second = await chatRuntime({ transport: "tcp", dir });
    const b = await enter(second, "durable", "Bob");
    expect(b.welcome.history.map((m) => [m.text, m.author.name])).toEqual([
      ["written before restart", "Ada"],
      ["second", "Ada"],
    ]);
    expect(b.welcome.members.map((m) => m.name)).toEqual(["Bob"]);
    const next = await b.client.say("after restart");
    expect(next.message.id).toBeGreaterThan(b.welcome.history.at(-1)!.id);
  });
});
