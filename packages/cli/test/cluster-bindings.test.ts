/**
 * KV, D1 and R2 in cluster mode, as users run it: `torpor start --workers 2`
 * (real processes) on one data directory. Requests on fresh connections are
 * spread over both workers; every worker sees every other's writes at once,
 * and concurrent writes through both are neither lost nor doubled.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { expect, it } from "vitest";
import { project, runTorpor, startTorpor } from "./helpers.ts";

const worker = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = (name) => url.searchParams.get(name);
    const via = process.pid;
    switch (url.pathname) {
      case "/kv/put":
        await env.KV.put(q("k"), q("v"));
        return Response.json({ via });
      case "/kv/get":
        return Response.json({ via, value: await env.KV.get(q("k")) });
      case "/d1/inc":
        await env.DB.prepare("UPDATE counter SET n = n + 1 WHERE id = 1").run();
        return Response.json({ via });
      case "/d1/n":
        return Response.json({ via, value: await env.DB.prepare("SELECT n FROM counter WHERE id = 1").first("n") });
      case "/r2/once": {
        const created = await env.FILES.put("once", q("v"), { onlyIf: { etagDoesNotMatch: "*" } });
        return Response.json({ via, created: created !== null });
      }
      case "/r2/get": {
        const object = await env.FILES.get(q("k"));
        return Response.json({ via, value: object === null ? null : await object.text() });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
`;

/** GET on a fresh connection, so the supervisor's round robin spreads requests over the workers. */
function getJson(url: string): Promise<{ status: number; body: { via: number; value?: unknown; created?: boolean } }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    }).on("error", reject);
  });
}

it("KV, D1 and R2 are one store for every worker: writes seen at once, none lost or doubled", { timeout: 180_000 }, async () => {
  const dir = project({
    "wrangler.jsonc": JSON.stringify({
      main: "worker.js",
      compatibility_date: "2026-04-07",
      kv_namespaces: [{ binding: "KV", id: "sessions" }],
      d1_databases: [{ binding: "DB", database_name: "app", database_id: "5f0e6c1a" }],
      r2_buckets: [{ binding: "FILES", bucket_name: "files" }],
    }),
    "worker.js": worker,
  });
  mkdirSync(join(dir, "migrations"));
  writeFileSync(
    join(dir, "migrations", "0001_counter.sql"),
    "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);\nINSERT INTO counter VALUES (1, 0);\n",
  );
  const migrated = await runTorpor(["d1", "migrate"], dir);
  expect(migrated.code).toBe(0);

  const server = await startTorpor(["start", "--workers", "2", "--port", "0"], dir, 90_000);
  try {
    // D1: concurrent increments through both workers, each its own transaction on the shared file.
    const increments = await Promise.all(Array.from({ length: 60 }, () => getJson(`${server.url}/d1/inc`)));
    expect(increments.every((r) => r.status === 200)).toBe(true);
    expect(new Set(increments.map((r) => r.body.via)).size).toBe(2);
    expect((await getJson(`${server.url}/d1/n`)).body.value).toBe(60);

    // KV: each value is read by the next request, which the round robin sends to the other worker.
    const vias = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const put = await getJson(`${server.url}/kv/put?k=step&v=${i}`);
      const read = await getJson(`${server.url}/kv/get?k=step`);
      vias.add(put.body.via).add(read.body.via);
      expect(read.body.value).toBe(String(i));
    }
    expect(vias.size).toBe(2);

    // R2: create-if-absent raced through both workers has exactly one winner, and everyone reads it.
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, i) => getJson(`${server.url}/r2/once?v=${i}`)));
    const winners = attempts.filter((r) => r.body.created);
    expect(winners).toHaveLength(1);
    const stored = (await getJson(`${server.url}/r2/get?k=once`)).body.value;
    expect(String(attempts.indexOf(winners[0]!))).toBe(stored);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});
