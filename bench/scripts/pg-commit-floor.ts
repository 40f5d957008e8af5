// The floor under `--durability postgres` at one object: one node-pg client committing 2 KB autocommit INSERTs one
// after another (prepared, fsync on, synchronous_commit on, Unix socket) into a throwaway PostgreSQL, then SELECT 1
// (a round trip with no WAL flush); 3 rounds of 2,000 each, commits/s and p50/p99. An experiment behind bench/RESULTS.md
// ("all parts on a quiet machine"), not a bench part. Run it under the bench lock:
//   node --conditions=@torpor/source --import tsx bench/scripts/pg-commit-floor.ts
import { loadavg } from "node:os";
import { createRequire } from "node:module";
import { startPgServer } from "../../packages/postgres/test/pg-server.ts";

// The bench borrows dependencies from the packages that declare them (bench/lib/deps.ts): pg is @torpor/postgres's.
const pg = createRequire(new URL("../../packages/postgres/package.json", import.meta.url))("pg") as typeof import("pg");

const server = startPgServer({ fsync: true });
const client = new pg.Client({ connectionString: server.url });
try {
  await client.connect();
  await client.query("CREATE TABLE floor (id bigserial PRIMARY KEY, body bytea)");
  const body = Buffer.alloc(2048, 7);
  for (let round = 1; round <= 3; round++) {
    await measure(`round ${round}: INSERT 2 KB, autocommit`, "floor_insert", "INSERT INTO floor (body) VALUES ($1)", [body]);
    await measure(`round ${round}: SELECT 1`, "floor_select", "SELECT 1", []);
  }
} finally {
  await client.end().catch(() => {});
  server.destroy();
}

async function measure(label: string, name: string, text: string, values: unknown[], n = 2_000): Promise<void> {
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.query({ name, text, values });
    times.push(performance.now() - t);
  }
  const perSecond = n / ((performance.now() - start) / 1000);
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(n - 1, Math.floor(n * q))]!.toFixed(3);
  console.log(`${label}: ${perSecond.toFixed(0)}/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms (load average ${loadavg()[0].toFixed(1)})`);
}
