/**
 * --log-format and request ids, over a real process: JSON lines carry the
 * request id (the client's X-Request-Id, or one made per request and shared
 * by that request's lines), the error's code and hint at the top level, the
 * object and event of a handler error, and at debug level a line per
 * request with its status and duration; the text format carries the same ids.
 */
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { WebSocket } from "ws";
import { project, startTorpor, type Server } from "./helpers.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Room extends DurableObject {
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    throw new RangeError("bad message " + message);
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ws") return env.ROOMS.getByName("lobby").fetch(request);
    if (url.pathname === "/fail") {
      const error = new Error("the Worker failed");
      error.code = "ERR_APP_BROKEN";
      throw error;
    }
    return new Response("ok");
  },
};
`;
const CONFIG = JSON.stringify({ main: "worker.js", compatibility_date: "2025-06-01", durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] } });

interface Line {
  level: string;
  message: string;
  requestId?: string;
  [field: string]: unknown;
}

const lines = (server: Server): Line[] =>
  server
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line);

it("--log-format json --log-level debug: request ids, error code and hint at the top level, handler errors name the object and event", {
  timeout: 60000,
}, async () => {
  const dir = project({ "wrangler.json": CONFIG, "worker.js": WORKER });
  const server = await startTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data"), "--log-format", "json", "--log-level", "debug"], dir);
  servers.push(server);

  expect((await fetch(`${server.url}/fail`, { headers: { "x-request-id": "lb-1234" } })).status).toBe(500);
  expect((await fetch(`${server.url}/fail`)).status).toBe(500);
  expect((await fetch(`${server.url}/ok`)).status).toBe(200);
  await expect.poll(() => lines(server).filter((l) => l.message === "Request").length).toBe(3);

  const failures = lines(server).filter((l) => l.message === "Uncaught error in the Worker's fetch()");
  expect(failures).toHaveLength(2);
  expect(failures[0]).toMatchObject({ level: "error", requestId: "lb-1234", code: "ERR_APP_BROKEN", error: { name: "Error", message: "the Worker failed" } });
  const made = failures[1]!.requestId!;
  expect(made).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
  const requests = lines(server).filter((l) => l.message === "Request");
  expect(requests.map((r) => [r.requestId === made ? "made" : r.requestId?.length ? "other" : "none", r.url, r.status])).toEqual([
    ["other", "/fail", 500],
    ["made", "/fail", 500],
    ["other", "/ok", 200],
  ]);
  expect(requests[0]!.requestId).toBe("lb-1234");
  expect(requests.every((r) => typeof r.durationMs === "number" && r.durationMs >= 0)).toBe(true);
  // Every request gets its own id.
  expect(new Set(requests.map((r) => r.requestId)).size).toBe(3);

  const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  ws.send("boom");
  await expect.poll(() => lines(server).find((l) => l.message === "Uncaught error in webSocketMessage()")).toBeDefined();
  expect(lines(server).find((l) => l.message === "Uncaught error in webSocketMessage()")).toMatchObject({
    binding: "ROOMS",
    object: expect.stringMatching(/^[0-9a-f]{64}$/),
    name: "lobby",
    event: "webSocketMessage",
    error: { name: "RangeError", message: "bad message boom" },
  });
  ws.close();
  expect(await server.stop()).toBe(0);
});

it("--log-format text (the dev default) carries the request id too", { timeout: 60000 }, async () => {
  const dir = project({ "wrangler.json": CONFIG, "worker.js": WORKER });
  const server = await startTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data")], dir);
  servers.push(server);
  expect((await fetch(`${server.url}/fail`, { headers: { "x-request-id": "trace-77" } })).status).toBe(500);
  await expect
    .poll(() => server.stderr())
    .toMatch(
      /^\[torpor\] error: Uncaught error in the Worker's fetch\(\) (?:worker=0 )?requestId=trace-77 url=http:\/\/\S+\/fail error=Error: the Worker failed/m,
    );
  expect(await server.stop()).toBe(0);
});
