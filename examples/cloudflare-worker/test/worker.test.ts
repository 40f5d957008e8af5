/**
 * The example Worker, unchanged, under `torpor dev` as a child process:
 * HTTP, RPC, hibernatable WebSockets (tags, attachments, auto-response,
 * close), SQL storage, an alarm, and the admin endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, removeDir, startTorpor, tempDir, until, wsUrl, type TorporProcess } from "./helpers.ts";

interface ObjectRow {
  binding: string;
  name: string | null;
  state: "live" | "hibernated";
  sockets: number;
  constructed: number;
  woken: number;
}

describe("torpor dev runs the Cloudflare Worker unchanged", () => {
  let torpor: TorporProcess;
  let dir: string;
  const clients: Client[] = [];

  // The header is what a cross-site form cannot send; without it (and no token) POSTs are refused.
  const admin = (path: string, init?: RequestInit) => fetch(`${torpor.adminUrl!}${path}`, { ...init, headers: { "x-torpor-admin": "1", ...init?.headers } });
  const objects = async () => (await (await admin("/objects")).json()) as ObjectRow[];
  const room = async (name: string) => (await objects()).find((o) => o.name === name);
  const connect = async (path: string) => {
    const client = await Client.connect(wsUrl(torpor.url, path));
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = tempDir();
    torpor = await startTorpor(["dev", "--port", "0", "--admin-port", "0", "--persist-to", dir], { admin: true });
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    if (torpor !== undefined) {
      torpor.child.kill("SIGTERM");
      expect(await torpor.exited).toBe(0);
      expect(torpor.stderr()).not.toMatch(/\berror\b/i);
    }
    removeDir(dir);
  });

  it("prints the real URL for --port 0 and serves the Worker's fetch with vars and the imported env", async () => {
    expect(torpor.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(torpor.url).not.toMatch(/:0$/);
    const response = await fetch(`${torpor.url}/`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ greeting: "Hello from a Durable Object", importedEnvMatches: true });
    expect((await fetch(`${torpor.url}/nowhere`)).status).toBe(404);
  });

  it("accepts hibernatable WebSockets with tags and attachments, stores in SQL, acks, broadcasts", async () => {
    const alice = await connect("/rooms/lobby/ws?user=alice");
    const bob = await connect("/rooms/lobby/ws?user=bob");
    alice.send({ type: "write", id: "m1", body: "hello" });
    expect(await alice.json()).toEqual({ type: "ack", id: "m1" });
    alice.send({ type: "who" });
    // getWebSockets() lists the newest socket first, as on workerd.
    expect(await alice.json()).toEqual({ type: "who", users: ["bob", "alice"], tags: ["user:alice"] });
    bob.send({ type: "broadcast", body: "hi all" });
    expect(await alice.json()).toEqual({ type: "message", from: "bob", body: "hi all" });
    expect(await bob.json()).toEqual({ type: "message", from: "bob", body: "hi all" });
    const history = await (await fetch(`${torpor.url}/rooms/lobby/history`)).json();
    expect(history).toEqual([{ id: "m1", author: "alice", body: "hello" }]);
  });

  it("calls a Durable Object method over RPC", async () => {
    const stats = await (await fetch(`${torpor.url}/rooms/lobby/stats`)).json();
    expect(stats).toEqual({ messages: 1, sockets: 2, alarmRuns: 0 });
  });

  it("hibernates through the admin endpoint, answers the auto-response asleep, and wakes with attachments intact", async () => {
    const [alice, bob] = clients as [Client, Client];
    const response = await admin("/objects/ROOMS/lobby/hibernate", { method: "POST" });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ binding: "ROOMS", name: "lobby", state: "hibernated", sockets: 2 });
    const asleep = (await room("lobby"))!;
    expect(asleep).toMatchObject({ binding: "ROOMS", state: "hibernated", sockets: 2 });

    alice.send("ping");
    expect(await alice.next()).toBe("pong");
    expect(await room("lobby")).toMatchObject({ state: "hibernated", constructed: asleep.constructed, woken: asleep.woken });

    bob.send({ type: "who" });
    expect(await bob.json()).toEqual({ type: "who", users: ["bob", "alice"], tags: ["user:bob"] });
    expect(await room("lobby")).toMatchObject({ state: "live", constructed: asleep.constructed + 1, woken: asleep.woken + 1 });
  });

  it("refuses to hibernate an object pinned by a standard ws.accept() socket: 409 with the reason", async () => {
    const pinned = await connect("/rooms/pinned/standard-ws");
    pinned.send("x");
    expect(await pinned.next()).toBe("echo: x");
    const response = await admin("/objects/ROOMS/pinned/hibernate", { method: "POST" });
    expect(response.status).toBe(409);
    const body = (await response.json()) as { error: { code: string; message: string; blockers: string[] } };
    expect(body.error.code).toBe("ERR_NOT_HIBERNATABLE");
    expect(body.error.blockers.join(" ")).toMatch(/ws\.accept\(\)/);
  });

  it("answers 404 for unknown bindings, objects and routes, 405 for wrong methods", async () => {
    expect((await admin("/objects/NOPE/lobby/hibernate", { method: "POST" })).status).toBe(404);
    expect((await admin("/objects/ROOMS/never-started/hibernate", { method: "POST" })).status).toBe(404);
    expect((await objects()).some((o) => o.name === "never-started")).toBe(false);
    expect((await admin("/nothing")).status).toBe(404);
    expect((await admin("/objects/ROOMS/lobby/hibernate")).status).toBe(405);
  });

  it("runs an alarm set from a WebSocket handler", async () => {
    const bob = clients[1]!;
    bob.send({ type: "alarm", inMs: 20 });
    expect(await bob.json()).toEqual({ type: "alarm-set" });
    expect(await bob.json()).toEqual({ type: "alarm", runs: 1 });
  });

  it("delivers webSocketClose with the closing socket still listed by getWebSockets(), as on workerd", async () => {
    const [alice, bob] = clients as [Client, Client];
    alice.close(1000, "bye");
    expect(await alice.closed).toEqual({ code: 1000, reason: "bye" });
    expect(await bob.json()).toEqual({ type: "left", user: "alice", code: 1000, wasClean: true, remaining: ["bob"] });
  });

  it("exports Prometheus metrics", async () => {
    const response = await admin("/metrics");
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1]);
    expect(value('torpor_objects{state="live"}') + value('torpor_objects{state="hibernated"}')).toBe(2);
    expect(value("torpor_websockets")).toBe(1);
    expect(value('torpor_events_total{type="webSocketMessage"}')).toBeGreaterThanOrEqual(4);
    expect(value('torpor_events_total{type="webSocketClose"}')).toBe(1);
    expect(value('torpor_events_total{type="fetch"}')).toBeGreaterThanOrEqual(4);
    expect(value('torpor_events_total{type="rpc"}')).toBe(1);
    expect(value("torpor_object_wakes_total")).toBe(1);
    expect(value("torpor_object_evictions_total")).toBeGreaterThanOrEqual(1);
    expect(value("torpor_websocket_auto_responses_total")).toBe(1);
    expect(value("torpor_storage_commits_total")).toBeGreaterThanOrEqual(1);
    expect(value("torpor_alarm_runs_total")).toBe(1);
    expect(value("torpor_alarm_retries_total")).toBe(0);
    expect(text).toMatch(/^# TYPE torpor_events_total counter$/m);
  });

  it("keeps storage across a restart on the same --persist-to", async () => {
    torpor.child.kill("SIGTERM");
    expect(await torpor.exited).toBe(0);
    const first = torpor;
    torpor = await startTorpor(["dev", "--port", "0", "--admin-port", "0", "--persist-to", dir], { admin: true });
    expect(first.stderr()).toMatch(/Stopped/);
    const stats = await until(async () => {
      const r = await fetch(`${torpor.url}/rooms/lobby/stats`);
      return r.ok ? ((await r.json()) as { messages: number; alarmRuns: number }) : undefined;
    }, "stats after restart");
    expect(stats).toMatchObject({ messages: 1, alarmRuns: 1 });
  });
});
