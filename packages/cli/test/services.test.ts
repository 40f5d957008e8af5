/**
 * Several Workers in one torpor process (`-c a -c b`, as wrangler dev) and the
 * service bindings between them, with the real bin: modules loaded apart, a
 * binding to a Worker that was not given, bad configs, and cluster mode (every
 * worker process runs every Worker). What the bindings answer is compared with
 * workerd in compat/test/services.test.ts.
 */
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { project, runTorpor, startTorpor, type Server } from "./helpers.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

const SHARED = `let calls = 0;\nexport function next() { return ++calls; }\n`;

const FRONT = `
import { next } from "./shared.js";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/shared") return Response.json({ front: next(), back: await env.BACK.next(), front2: next() });
    if (url.pathname === "/missing") {
      try {
        await env.GONE.fetch("http://gone/");
        return new Response("reached?");
      } catch (error) {
        return Response.json({ name: error.name, code: error.code, message: error.message });
      }
    }
    return Response.json({ pid: process.pid, sum: await env.BACK.add(1, 2), text: await (await env.BACK.fetch("http://back/hi")).text() });
  },
};
`;

const BACK = `
import { WorkerEntrypoint } from "cloudflare:workers";
import { next } from "./shared.js";
export default class extends WorkerEntrypoint {
  fetch(request) { return new Response("back " + new URL(request.url).pathname + " " + process.pid); }
  add(a, b) { return a + b; }
  next() { return next(); }
}
`;

function files(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "front.jsonc": JSON.stringify({
      name: "front",
      main: "front.js",
      compatibility_date: "2026-04-07",
      services: [
        { binding: "BACK", service: "back" },
        { binding: "GONE", service: "not-started" },
      ],
    }),
    "back.jsonc": JSON.stringify({ name: "back", main: "back.js", compatibility_date: "2026-04-07" }),
    "front.js": FRONT,
    "back.js": BACK,
    "shared.js": SHARED,
    ...extra,
  };
}

it("each Worker has its own module instances: a module both import counts apart", async () => {
  const dir = project(files());
  const server = await startTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data"), "-c", "front.jsonc", "-c", "back.jsonc"], dir);
  servers.push(server);
  expect(await (await fetch(`${server.url}/shared`)).json()).toEqual({ front: 1, back: 1, front2: 2 });
  expect(await (await fetch(`${server.url}/shared`)).json()).toEqual({ front: 3, back: 2, front2: 4 });
  expect(await server.stop()).toBe(0);
});

it("a binding to a Worker that was not given fails its call with ERR_SERVICE_NOT_FOUND, naming what runs", async () => {
  const dir = project(files());
  const server = await startTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data"), "-c", "front.jsonc", "-c", "back.jsonc"], dir);
  servers.push(server);
  expect(await (await fetch(`${server.url}/missing`)).json()).toEqual({
    name: "TorporError",
    code: "ERR_SERVICE_NOT_FOUND",
    message:
      'The service binding to "not-started" has no Worker to call: no config given to this torpor process is named "not-started" (running: back, front). Start it too (torpor dev -c this.jsonc -c not-started.jsonc), as wrangler dev takes several configs.',
  });
  expect(await server.stop()).toBe(0);
});

it("torpor start --workers 2 runs every Worker in every worker process", { timeout: 90_000 }, async () => {
  const dir = project(files());
  const server = await startTorpor(["start", "--port", "0", "--workers", "2", "--persist-to", join(dir, "data"), "-c", "front.jsonc", "-c", "back.jsonc"], dir);
  servers.push(server);
  const pids = new Set<number>();
  for (let i = 0; i < 100 && pids.size < 2; i++) {
    const body = (await (await fetch(`${server.url}/`)).json()) as { pid: number; sum: number; text: string };
    // The service call stays in the process that took the request.
    expect(body).toEqual({ pid: body.pid, sum: 3, text: `back /hi ${body.pid}` });
    pids.add(body.pid);
  }
  expect(pids.size, "both worker processes answered").toBe(2);
  expect(await server.stop()).toBe(0);
});

// Three refusals, one torpor process each: apart, each has the whole test budget (together, three process starts on a
// loaded machine once took 54 of the 60 s one test has).
it("refuses a second Worker without a name", async () => {
  const unnamed = project(files({ "back.jsonc": JSON.stringify({ main: "back.js" }) }));
  const a = await runTorpor(["dev", "--port", "0", "-c", "front.jsonc", "-c", "back.jsonc"], unnamed);
  expect(a.code).toBe(1);
  expect(a.stderr).toMatch(/^torpor: .*back\.jsonc has no "name": every Worker after the first needs one \(service bindings call it by name\)\.$/m);
});

it("refuses a second Worker with a repeated name", async () => {
  const twice = project(files({ "back.jsonc": JSON.stringify({ name: "front", main: "back.js" }) }));
  const b = await runTorpor(["dev", "--port", "0", "-c", "front.jsonc", "-c", "back.jsonc"], twice);
  expect(b.code).toBe(1);
  expect(b.stderr).toMatch(/^torpor: .*back\.jsonc: the name "front" is used by another config given; each Worker needs its own\.$/m);
});

it("refuses, in cluster mode, a second Worker with Durable Objects", async () => {
  const objects = project(
    files({
      "back.jsonc": JSON.stringify({
        name: "back",
        main: "back.js",
        durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] },
        migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
      }),
      "back.js": `${BACK}\nexport class Room {}\n`,
    }),
  );
  const c = await runTorpor(
    ["start", "--port", "0", "--workers", "2", "--persist-to", join(objects, "data"), "-c", "front.jsonc", "-c", "back.jsonc"],
    objects,
  );
  expect(c.code).toBe(1);
  expect(c.stderr).toContain('the Worker "back" binds Durable Objects; in cluster mode only the first Worker\'s objects are placed across worker processes.');
});
