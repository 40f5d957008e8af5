/**
 * The `torpor` bin as a real process: help, config errors, warnings, TOML,
 * a JavaScript entry with a WorkerEntrypoint class, `cloudflare:workers`,
 * the Cache API shared by a cluster's workers, and JSON logs from `torpor start`.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { project, runTorpor, startTorpor, type Server } from "./helpers.ts";

const servers: Server[] = [];

afterEach(() => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

const WORKER_JS = `
import { DurableObject, WorkerEntrypoint, env as importedEnv } from "cloudflare:workers";

export class Counter extends DurableObject {
  async add(n) {
    const total = ((await this.ctx.storage.get("total")) ?? 0) + n;
    await this.ctx.storage.put("total", total);
    return { total, greeting: this.env.GREETING };
  }
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/caches") {
      if (url.searchParams.has("put")) await caches.default.put("https://cache.test/k", new Response(url.searchParams.get("put"), { headers: { "cache-control": "max-age=600" } }));
      const hit = await caches.default.match("https://cache.test/k");
      return new Response(hit === undefined ? "miss" : await hit.text(), { headers: { "x-pid": String(process.pid) } });
    }
    const result = await this.env.COUNTER.getByName("c").add(Number(url.searchParams.get("n") ?? 1));
    return Response.json({ ...result, sameEnv: importedEnv.GREETING === this.env.GREETING });
  }
}
`;

const WRANGLER_TOML = `
name = "counter"
main = "worker.js"
compatibility_date = "2025-06-01"
queues = { producers = [{ binding = "JOBS", queue = "jobs" }], consumers = [{ queue = "jobs" }] }
mystery = true

[vars]
GREETING = "hi"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
`;

it("--help lists every option and exits 0", async () => {
  const { code, stdout, stderr } = await runTorpor(["--help"], tmpdir());
  expect(code).toBe(0);
  expect(stderr).toBe("");
  for (const flag of ["--config", "--port", "--ip", "--persist-to", "--hibernate-after-ms", "--max-attachment-bytes", "--max-message-bytes", "--admin-port"])
    expect(stdout).toContain(flag);
});

it("a malformed config gives one precise error and exit code 1", async () => {
  const dir = project({
    "wrangler.jsonc": `{\n  "main": "worker.js",\n  "vars": { "A": 1 }\n  "compatibility_date": "2025-06-01"\n}\n`,
    "worker.js": WORKER_JS,
  });
  const { code, stdout, stderr } = await runTorpor(["dev"], dir);
  expect(code).toBe(1);
  expect(stdout).toBe("");
  expect(stderr).toBe("torpor: wrangler.jsonc:4:3: invalid JSON: comma expected.\n");
});

it("an invalid value names its key; a missing class names the exports", async () => {
  const bad = project({ "wrangler.json": JSON.stringify({ main: "worker.js", durable_objects: { bindings: [{ name: "COUNTER" }] } }), "worker.js": WORKER_JS });
  const invalid = await runTorpor(["dev"], bad);
  expect(invalid.code).toBe(1);
  expect(invalid.stderr).toBe('torpor: wrangler.json: "durable_objects.bindings[0].class_name" Invalid input: expected string, received undefined.\n');

  const missing = project({
    "wrangler.json": JSON.stringify({
      main: "worker.js",
      compatibility_date: "2025-06-01",
      durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
    }),
    "worker.js": WORKER_JS,
  });
  const result = await runTorpor(["dev", "--port", "0"], missing);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /^torpor: The binding ROOMS uses class "Room", but .*worker\.js does not export it \(its exported classes and functions: Counter\)/m,
  );
});

it("without an entry or a config, says where it looked", async () => {
  const dir = project({});
  const { code, stderr } = await runTorpor(["dev"], dir);
  expect(code).toBe(1);
  expect(stderr).toMatch(/^torpor: No Worker entry: pass one \(torpor dev src\/index\.ts\) or run where a wrangler\.jsonc/);
});

it("torpor start runs a TOML-configured JavaScript Worker (WorkerEntrypoint, RPC, cloudflare:workers env) with JSON logs and warnings per unsupported key", async () => {
  const dir = project({ "wrangler.toml": WRANGLER_TOML, "worker.js": WORKER_JS });
  const server = await startTorpor(["start", "--port", "0", "--workers", "2", "--persist-to", join(dir, "data")], dir);
  servers.push(server);
  expect(await (await fetch(`${server.url}/?n=2`)).json()).toEqual({ total: 2, greeting: "hi", sameEnv: true });
  expect(await (await fetch(`${server.url}/?n=3`)).json()).toEqual({ total: 5, greeting: "hi", sameEnv: true });

  // The cache is on disk under the data directory: every worker process of the cluster sees one put.
  expect(await (await fetch(`${server.url}/caches`)).text()).toBe("miss");
  expect(await (await fetch(`${server.url}/caches?put=cached`)).text()).toBe("cached");
  const pids = new Set<string>();
  for (let i = 0; i < 100 && pids.size < 2; i++) {
    const response = await fetch(`${server.url}/caches`);
    expect(await response.text()).toBe("cached");
    pids.add(response.headers.get("x-pid")!);
  }
  expect(pids.size, "both workers answered").toBe(2);

  expect(await server.stop()).toBe(0);
  const logs = server
    .stdout()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { level: string; message: string });
  expect(logs.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
    'wrangler.toml: "queues" is ignored: Queues are not provided yet (they come next; see "Queues and Workflows" in docs/compatibility.md): env.JOBS is undefined, and the queue() handler never runs for "jobs".',
    'wrangler.toml: unknown key "mystery" is ignored.',
  ]);
  expect(logs.map((l) => l.message)).toEqual(expect.arrayContaining(["Worker loaded", "Listening", "Stopped"]));
  expect(server.stderr()).toBe("");
});

it("runs an entry given on the command line with no config, and takes --var", async () => {
  const dir = project({
    "entry.ts": `const greet = (name: string): string => \`hello \${name}\`;\nexport default { fetch: (_req: Request, env: { WHO: string }) => new Response(greet(env.WHO)) };\n`,
  });
  const server = await startTorpor(["dev", "entry.ts", "--port", "0", "--var", "WHO:world", "--persist-to", join(dir, "data")], dir);
  servers.push(server);
  expect(await (await fetch(server.url)).text()).toBe("hello world");
  expect(await server.stop()).toBe(0);
});

it("a port in use is one clear error", async () => {
  const dir = project({ "entry.js": `export default { fetch: () => new Response("x") };\n` });
  const first = await startTorpor(["dev", "entry.js", "--port", "0", "--persist-to", join(dir, "a")], dir);
  servers.push(first);
  const port = new URL(first.url).port;
  const second = await runTorpor(["dev", "entry.js", "--port", port, "--persist-to", join(dir, "b")], dir);
  expect(second.code).toBe(1);
  expect(second.stderr).toMatch(new RegExp(`^torpor: Port ${port} on 127\\.0\\.0\\.1 is in use; pick another with --port`, "m"));
  expect(await first.stop()).toBe(0);
});
