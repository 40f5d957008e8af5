/**
 * `torpor dev` reloads on save and keeps hibernatable WebSockets, with real
 * processes and files: clients stay connected across several saves (no
 * close) and their next message runs the new class; a standard accept()
 * socket is closed with 1012; a save with a syntax error keeps the old code
 * serving and prints the error once, with file and line; a config change
 * reloads too; --no-watch runs one process that never reloads; a dev server
 * started after one was SIGKILLed waits for its orphaned worker.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { WebSocket } from "ws";
import { alive, workersOf } from "./cluster-fault-helpers.ts";
import { project, startTorpor, type Server } from "./helpers.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

const room = (version: string) => `
import { DurableObject } from "cloudflare:workers";
const VERSION = ${JSON.stringify(version)};
export class Room extends DurableObject {
  async fetch(request) {
    const [client, server] = Object.values(new WebSocketPair());
    if (new URL(request.url).searchParams.has("standard")) {
      server.accept();
      server.addEventListener("message", (event) => server.send(VERSION + " standard " + event.data));
    } else {
      this.ctx.acceptWebSocket(server, ["player"]);
      server.serializeAttachment({ joinedOn: VERSION });
    }
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    ws.send([VERSION, this.env.GREETING, message, "joined on " + ws.deserializeAttachment().joinedOn].join(" "));
  }
}
`;
const WORKER = `
import { Room } from "./room.js";
export { Room };
export default { fetch: (request, env) => env.ROOMS.getByName(new URL(request.url).pathname.slice(1)).fetch(request) };
`;
const config = (greeting: string) =>
  JSON.stringify({
    main: "worker.js",
    compatibility_date: "2025-06-01",
    vars: { GREETING: greeting },
    durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] },
    migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
  });

/** A client that records its messages and closes. */
async function client(url: string, path: string) {
  const ws = new WebSocket(`${url.replace("http", "ws")}${path}`);
  const messages: string[] = [];
  const closes: number[] = [];
  ws.on("message", (m) => messages.push(String(m)));
  ws.on("close", (code) => closes.push(code));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const ask = async (text: string) => {
    const before = messages.length;
    ws.send(text);
    await expect.poll(() => messages.length, { timeout: 15_000 }).toBeGreaterThan(before);
    return messages[before]!;
  };
  return { ws, messages, closes, ask };
}

it("reloads on save, keeping hibernatable sockets (0 closes, replies from the new code); a load error keeps the old code and is printed once with file and line", {
  timeout: 180_000,
}, async () => {
  const dir = project({ "wrangler.json": config("hi"), "worker.js": WORKER, "room.js": room("v1") });
  const server = await startTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data")], dir, 40_000);
  servers.push(server);
  const reloads = () => server.stderr().match(/\[torpor\] info: Reloaded /g)?.length ?? 0;
  const players = [await client(server.url, "/lobby"), await client(server.url, "/lobby"), await client(server.url, "/kitchen")];
  const standard = await client(server.url, "/lobby?standard");
  expect(await players[0]!.ask("a")).toBe("v1 hi a joined on v1");
  expect(await standard.ask("s")).toBe("v1 standard s");

  const save = async (file: string, text: string, expectReload: boolean) => {
    const before = reloads();
    writeFileSync(join(dir, file), text);
    if (expectReload) await expect.poll(reloads, { timeout: 60_000 }).toBe(before + 1);
  };

  await save("room.js", room("v2"), true);
  for (const [i, p] of players.entries()) expect(await p.ask(`m${i}`)).toBe(`v2 hi m${i} joined on v1`);
  await expect.poll(() => standard.closes).toEqual([1012]);

  // A syntax error: the old code keeps serving; the error is printed once, with file and line.
  writeFileSync(join(dir, "room.js"), `${room("v3")}\nexport const broken = ;\n`);
  await expect.poll(() => server.stderr().match(/Reload failed/g)?.length ?? 0, { timeout: 60_000 }).toBe(1);
  expect(server.stderr()).toMatch(/^\[torpor\] error: Reload failed; still serving the previous code\. room\.js:\d+(?::\d+)?: SyntaxError: .+$/m);
  expect(await players[1]!.ask("still")).toBe("v2 hi still joined on v1");

  await save("room.js", room("v3"), true);
  expect(await players[2]!.ask("fixed")).toBe("v3 hi fixed joined on v1");
  await save("wrangler.json", config("hello"), true);
  expect(await players[0]!.ask("cfg")).toBe("v3 hello cfg joined on v1");

  expect(server.stderr().match(/Reload failed/g)).toHaveLength(1);
  for (const p of players) expect(p.closes).toEqual([]);
  expect(server.stderr()).toMatch(/Reloaded .*socketsMoved=3/);
  expect(await server.stop()).toBe(0);
  // SIGTERM closes with 1012 (service restart), as for torpor start.
  for (const p of players) await expect.poll(() => p.closes).toEqual([1012]);
});

it("--no-watch: one process, no reload", { timeout: 60_000 }, async () => {
  const dir = project({ "wrangler.json": config("hi"), "worker.js": WORKER, "room.js": room("v1") });
  const server = await startTorpor(["dev", "--no-watch", "--port", "0", "--persist-to", join(dir, "data")], dir, 40_000);
  servers.push(server);
  const children = readdirSync(`/proc/${server.child.pid}/task`).flatMap((t) =>
    readFileSync(`/proc/${server.child.pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean),
  );
  expect(children).toEqual([]);
  const player = await client(server.url, "/lobby");
  expect(await player.ask("a")).toBe("v1 hi a joined on v1");
  expect(await server.stop()).toBe(0);
});

it("a dev server started while a killed one's worker still finishes a request waits for that worker, instead of refusing the data directory", {
  timeout: 180_000,
}, async () => {
  // The request waits for a file, so the orphaned worker is still running (with the data directory open) while the next dev starts.
  const gated = `
import { existsSync, writeFileSync } from "node:fs";
import { setTimeout as wait } from "node:timers/promises";
export default {
  async fetch(request) {
    const gate = new URL(request.url).searchParams.get("gate");
    if (gate !== null) writeFileSync(gate + ".in", "");
    if (gate !== null) while (!existsSync(gate)) await wait(25);
    return new Response("done");
  },
};
`;
  const dir = project({ "wrangler.json": JSON.stringify({ main: "worker.js", compatibility_date: "2025-06-01" }), "worker.js": gated });
  const data = join(dir, "data");
  const gate = join(dir, "gate");
  const first = await startTorpor(["dev", "--port", "0", "--persist-to", data], dir, 40_000);
  servers.push(first);
  const orphan = workersOf(first.child.pid!)[0]!;
  const slow = fetch(`${first.url}/?gate=${encodeURIComponent(gate)}`);
  // The request is running in the worker (it waits for its gate).
  await expect.poll(() => existsSync(`${gate}.in`), { timeout: 30_000 }).toBe(true);
  // An orphaned worker gives up on its requests after a bound of its own (ORPHAN_EXIT_MS). Under load the next dev
  // can take longer than that to start, and would find the directory free: the orphan is stopped until it is seen
  // waiting, so the test sees the wait whatever the machine's speed.
  process.kill(orphan, "SIGSTOP");
  let next: Promise<Server> | undefined;
  try {
    const killed = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await killed;

    let waiting = () => {};
    const sawWait = new Promise<void>((resolve) => (waiting = resolve));
    next = startTorpor(["dev", "--port", "0", "--persist-to", data], dir, 60_000, {}, (stderr) => {
      if (stderr.includes("Waiting for the data directory")) waiting();
    });
    next.then((s) => servers.push(s)).catch(() => {});
    // It waits for the orphan, which still has the request to finish, and says so (before the fix it refused: ERR_DATA_DIR_LOCKED).
    const started = next;
    await Promise.race([sawWait, started.then(() => Promise.reject(new Error("the second dev started beside the first's worker")))]);
  } finally {
    if (alive(orphan)) process.kill(orphan, "SIGCONT");
  }
  expect(alive(orphan)).toBe(true);
  writeFileSync(gate, "");
  expect(await (await slow).text()).toBe("done");
  const second = await next!;
  expect(alive(orphan)).toBe(false);
  expect(await (await fetch(second.url)).text()).toBe("done");
  expect(await second.stop()).toBe(0);
});
