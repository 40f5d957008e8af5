/**
 * /healthz and /readyz on the admin endpoint, over real processes: open to
 * probes without the token or the bound Host, 200 while the server can
 * serve, and a 503 that says why when it cannot (the lock file removed, a
 * worker that does not answer, storage that does not open).
 */
import { request } from "node:http";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { project, startTorpor, type Server } from "./helpers.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    if (s.child.exitCode !== null) continue;
    s.child.kill("SIGCONT");
    s.child.kill("SIGKILL");
  }
});

const ENTRY = `export default { fetch: () => new Response("ok") };\n`;

/** GET with a chosen Host header (fetch cannot set one). */
function get(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function start(args: string[]) {
  const dir = project({ "entry.js": ENTRY });
  const data = join(dir, "data");
  const server = await startTorpor(["start", "entry.js", "--port", "0", "--admin-port", "0", "--persist-to", data, ...args], dir, 40_000, {
    TORPOR_ADMIN_TOKEN: "t0ken",
  });
  servers.push(server);
  await expect.poll(() => /"message":"Admin listening","url":"([^"]+)"/.exec(server.stdout())?.[1]).toBeDefined();
  const admin = /"message":"Admin listening","url":"([^"]+)"/.exec(server.stdout())![1]!;
  return { server, admin, data };
}

it("one process: /healthz and /readyz answer probes without the token; removing the lock file or the storage directory makes it unready, saying why", {
  timeout: 90000,
}, async () => {
  const { server, admin, data } = await start(["--workers", "1"]);
  // The token guards everything else, and a foreign Host is refused there.
  expect((await get(admin, "/objects")).status).toBe(401);
  expect(await get(admin, "/healthz", { host: "kubelet.probe:1" })).toEqual({ status: 200, body: "ok\n" });
  const ready = await get(admin, "/readyz");
  expect(ready.status).toBe(200);
  expect(JSON.parse(ready.body)).toMatchObject({
    ready: true,
    checks: [
      { name: "lock", ok: true },
      { name: "workers", ok: true },
      { name: "storage", ok: true },
    ],
  });

  // The data directory's storage folder replaced by a file: no object could open its database.
  rmSync(join(data, "do"), { recursive: true, force: true });
  writeFileSync(join(data, "do"), "not a directory");
  const noStorage = await get(admin, "/readyz");
  expect(noStorage.status).toBe(503);
  expect(JSON.parse(noStorage.body)).toMatchObject({ ready: false, reason: expect.stringMatching(/^storage: storage cannot create a database in .*do: /) });
  rmSync(join(data, "do"));
  mkdirSync(join(data, "do"));
  expect((await get(admin, "/readyz")).status).toBe(200);

  // The lock file deleted: a second server would now start on the same directory.
  rmSync(join(data, "torpor.lock"));
  const noLock = await get(admin, "/readyz");
  expect(noLock.status).toBe(503);
  expect(JSON.parse(noLock.body).reason).toMatch(/^lock: the lock file .*torpor\.lock is gone/);
  expect(await server.stop()).toBe(0);
});

it("a cluster: /readyz covers every worker, and a worker that stops answering (SIGSTOP) makes it unready until it answers again", {
  timeout: 90000,
}, async () => {
  const { server, admin } = await start(["--workers", "2"]);
  const ready = JSON.parse((await get(admin, "/readyz")).body) as { ready: boolean; checks: Array<{ name: string; detail: string }> };
  expect(ready.ready).toBe(true);
  expect(ready.checks.map((c) => `${c.name}: ${c.detail.replace(/\d{2,}/g, "N").replace(/ on .*/, "")}`)).toEqual([
    "lock: holding the lock",
    "workers: worker 0: pid N is serving",
    "storage: worker 0: a scratch database opens and the alarm index answers",
    "workers: worker 1: pid N is serving",
    "storage: worker 1: a scratch database opens and the alarm index answers",
  ]);
  const pids = ready.checks.filter((c) => c.name === "workers").map((c) => Number(/pid (\d+)/.exec(c.detail)![1]));
  expect(pids).toHaveLength(2);

  process.kill(pids[1]!, "SIGSTOP");
  try {
    const stuck = await get(admin, "/readyz");
    expect(stuck.status).toBe(503);
    expect(JSON.parse(stuck.body).reason).toMatch(/^workers: worker 1 did not answer within 3000 ms$/);
    expect((await get(admin, "/healthz")).status).toBe(200);
  } finally {
    process.kill(pids[1]!, "SIGCONT");
  }
  await expect.poll(async () => (await get(admin, "/readyz")).status, { timeout: 10_000 }).toBe(200);
  expect(await server.stop()).toBe(0);
});
