/**
 * Dev mode (`pnpm dev`): the Worker's /state and /hibernate routes, which
 * read and drive the room object through the runtime's admin endpoint, over
 * real HTTP and WebSocket on port 0. Outside dev mode they do not exist.
 */
import { afterEach, expect, it } from "vitest";
import WebSocket from "ws";
import { startChatServer, type ChatServer } from "../src/server.ts";
import type { RoomObjectState } from "../src/worker.ts";
import { recordingLogger, removeDir, tempDir } from "./helpers.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(dev: boolean): Promise<ChatServer> {
  const dir = tempDir();
  cleanups.push(() => removeDir(dir));
  const server = await startChatServer({ dataDir: dir, port: 0, dev, logger: recordingLogger(), synchronous: "OFF" });
  cleanups.push(() => server.close());
  return server;
}

/** Joins a room and waits for the welcome; returns the socket and a queue of later frames. */
async function join(server: ChatServer, room: string, name: string): Promise<{ ws: WebSocket; next: () => Promise<{ type: string }> }> {
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/r/${room}/ws?name=${name}`);
  cleanups.push(() => ws.close());
  const frames: Array<{ type: string }> = [];
  const waiting: Array<(frame: { type: string }) => void> = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as { type: string };
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  const next = () => new Promise<{ type: string }>((resolve) => (frames.length > 0 ? resolve(frames.shift()!) : waiting.push(resolve)));
  expect((await next()).type).toBe("welcome");
  return { ws, next };
}

const state = async (server: ChatServer, room: string) => {
  const response = await fetch(`${server.url}/r/${room}/state`);
  expect(response.status).toBe(200);
  return (await response.json()) as RoomObjectState;
};
const hibernate = (server: ChatServer, room: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(`${server.url}/r/${room}/hibernate`, { method: "POST", headers, body: "{}" });

it("shows the room object's state, hibernates it on request, and a message wakes it", async () => {
  const server = await serve(true);
  expect(server.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(await state(server, "lobby")).toMatchObject({ room: "lobby", state: "not running", constructed: 0, woken: 0 });

  const ada = await join(server, "lobby", "Ada");
  expect(await state(server, "lobby")).toEqual({ room: "lobby", state: "live", constructed: 1, woken: 0, sockets: 1, hibernateAfterMs: 5_000 });

  // Only a JSON POST: a cross-site form cannot send that content type.
  expect((await hibernate(server, "lobby", { "content-type": "application/x-www-form-urlencoded" })).status).toBe(415);
  expect((await fetch(`${server.url}/r/lobby/hibernate`)).status).toBe(405);
  const done = await hibernate(server, "lobby");
  expect(done.status).toBe(200);
  expect(await done.json()).toMatchObject({ state: "hibernated", sockets: 1 });
  // Reading the state does not wake the room.
  expect(await state(server, "lobby")).toMatchObject({ state: "hibernated", constructed: 1, woken: 0 });
  expect(await state(server, "lobby")).toMatchObject({ state: "hibernated" });

  ada.ws.send(JSON.stringify({ type: "message", text: "wake up" }));
  expect((await ada.next()).type).toBe("message");
  expect(await state(server, "lobby")).toMatchObject({ state: "live", constructed: 2, woken: 1, sockets: 1 });
});

it("answers 404 for a room that never ran, and has no such routes outside dev mode", async () => {
  const dev = await serve(true);
  expect((await hibernate(dev, "empty")).status).toBe(404);
  const production = await serve(false);
  expect(production.adminUrl).toBeNull();
  expect((await fetch(`${production.url}/r/lobby/state`)).status).toBe(404);
  expect((await hibernate(production, "lobby")).status).toBe(404);
});
