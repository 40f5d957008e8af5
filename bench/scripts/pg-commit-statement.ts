// What the shape of the commit statement costs at one object: the fenced append as shipped by ObjectLog, a one-object
// statement with plain parameters, each with the record TOASTed or kept in its row, beside plain 2 KB INSERTs and
// SELECT 1. One connection, sequential, records of 2,161 B (the multinode bench's), fsync on; per statement: p50/p99,
// PostgreSQL's CPU (its processes' schedstat), this process's CPU and the WAL written. An experiment behind
// bench/RESULTS.md ("the commit statement and the WAL tail's reads"), not a bench part. Run it under the bench lock:
//   node --conditions=@torpor/source --import tsx bench/scripts/pg-commit-statement.ts
// With BENCH_BASE_ROOT=<checkout>, that checkout's ObjectLog and schema are measured (main before the change ships the
// unnest statement and TOASTs records: its "ObjectLog.append" row is then the old statement).
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = process.env.BENCH_BASE_ROOT ?? fileURLToPath(new URL("../../", import.meta.url));
const P = (await import(resolve(root, "packages/postgres/src/index.ts"))) as typeof import("../../packages/postgres/src/index.ts");
const { startPgServer } = (await import(resolve(root, "packages/postgres/test/pg-server.ts"))) as typeof import("../../packages/postgres/test/pg-server.ts");
const { slotOf } = (await import(resolve(root, "packages/core/src/cluster/index.ts"))) as typeof import("../../packages/core/src/cluster/index.ts");

const BLOCKS = Number(process.env.BLOCKS ?? 16);
const PER_BLOCK = 200;
const server = startPgServer({ fsync: true });
const db = await P.openClusterDb({ url: server.url, poolSize: 2, skipPoolerCheck: true });
try {
  const lease = await P.NodeLease.join(db, { nodeId: "n1", address: "-", ttlMs: 600_000 });
  const slots = new P.SlotLeases(db, "n1");
  await slots.rebalance();
  const log = new P.ObjectLog(db);
  const key = { namespace: "ROOM", id: "a".repeat(64) };
  const claim = (await log.claim(key, slotOf(key.id), slots.owned.get(slotOf(key.id))!, "n1"))!;
  const t = db.tables;
  // Mostly one byte, as a SQLite page holding the bench's message; the zero run already cut.
  const record = Buffer.alloc(2_161, 0x78);
  for (let i = 0; i < 64; i++) record[i] = (i * 37) & 255;
  await db.query("CREATE TABLE t_default (id bigserial PRIMARY KEY, b bytea)");
  await db.query("CREATE TABLE t_external (id bigserial PRIMARY KEY, b bytea)");
  await db.query("ALTER TABLE t_external ALTER COLUMN b SET STORAGE EXTERNAL");
  await db.query("CREATE TABLE t_in_row (id bigserial PRIMARY KEY, b bytea) WITH (toast_tuple_target = 8160)");
  await db.query("ALTER TABLE t_in_row ALTER COLUMN b SET STORAGE EXTERNAL");
  // The log's twins, one TOASTing its records and one keeping them in the row, whatever the schema of `root` does.
  for (const [name, options] of [
    ["log_toasted", ""],
    ["log_in_row", " WITH (toast_tuple_target = 8160)"],
  ]) {
    await db.query(`CREATE TABLE "${t.schema}".${name} (LIKE ${t.log} INCLUDING ALL)${options}`);
    await db.query(`ALTER TABLE "${t.schema}".${name} ALTER COLUMN record SET STORAGE EXTERNAL`);
  }
  const oneObject = (table: string) => `
    WITH up AS (
      UPDATE ${t.objects} SET head = $4, alarm_at = $6 WHERE namespace = $1 AND id = $2 AND epoch = $3 AND head = $4 - 1
      RETURNING namespace, id
    )
    INSERT INTO "${t.schema}".${table} (namespace, id, seq, epoch, record) SELECT namespace, id, $4::bigint, $3::bigint, $5::bytea FROM up`;
  const unnest = (table: string) => `
    WITH v AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::int[], $7::bigint[])
        AS v(namespace, id, epoch, seq, off, len, alarm)
    ), up AS (
      UPDATE ${t.objects} o SET head = v.seq, alarm_at = v.alarm FROM v
       WHERE o.namespace = v.namespace AND o.id = v.id AND o.epoch = v.epoch AND o.head = v.seq - 1
      RETURNING o.namespace, o.id
    ), ins AS (
      INSERT INTO "${t.schema}".${table} (namespace, id, seq, epoch, record)
      SELECT v.namespace, v.id, v.seq, v.epoch, substring($8::bytea FROM v.off + 1 FOR v.len)
        FROM v JOIN up ON up.namespace = v.namespace AND up.id = v.id
      RETURNING namespace, id
    )
    SELECT namespace, id FROM ins`;
  // Every fenced statement advances the one object's head: the tables share it.
  let seq = claim.head;
  const run = async (name: string, text: string, values: unknown[]) => {
    const result = await db.withClient((c) => c.query(text, values, name));
    if (text.includes("UPDATE") && result.rowCount !== 1) throw new Error(`${name}: the fence failed`);
  };
  const statements: Record<string, () => Promise<unknown>> = {
    "SELECT 1": () => run("s_select", "SELECT 1", []),
    "INSERT 2 KB, default storage (compressed, in the row)": () => run("s_default", "INSERT INTO t_default (b) VALUES ($1)", [record]),
    "INSERT 2 KB, STORAGE EXTERNAL (TOASTed)": () => run("s_external", "INSERT INTO t_external (b) VALUES ($1)", [record]),
    "INSERT 2 KB, EXTERNAL, toast_tuple_target 8160 (in the row)": () => run("s_in_row", "INSERT INTO t_in_row (b) VALUES ($1)", [record]),
    "ObjectLog.append (this checkout's statement and log table)": async () => {
      const written = await log.append([{ key, epoch: claim.epoch, seq: ++seq, record, alarm: null }]);
      if (written.size !== 1) throw new Error("append: the fence failed");
    },
    "unnest statement, record TOASTed": () => run("s_unnest_toasted", unnest("log_toasted"), unnestValues()),
    "unnest statement, record in the row": () => run("s_unnest_in_row", unnest("log_in_row"), unnestValues()),
    "one-object statement, record TOASTed": () => run("s_one_toasted", oneObject("log_toasted"), oneValues()),
    "one-object statement, record in the row": () => run("s_one_in_row", oneObject("log_in_row"), oneValues()),
  };
  const unnestValues = () => [[key.namespace], [key.id], [claim.epoch], [++seq], [0], [record.length], [null], record];
  const oneValues = () => [key.namespace, key.id, claim.epoch, ++seq, record, null];

  const serverCpuUs = () => {
    let ns = 0;
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("postgres")) ns += Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // Gone between the listing and the read.
      }
    }
    return ns / 1000;
  };
  const walBytes = async () => Number((await db.query<{ b: string }>("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS b")).rows[0]!.b);
  const entries = Object.entries(statements);
  const stats = new Map(entries.map(([name]) => [name, { times: [] as number[], serverUs: 0, clientUs: 0, wal: 0 }]));
  // Past the five custom plans of every prepared statement, and the first WAL segments.
  for (const [, op] of entries) for (let i = 0; i < 200; i++) await op();
  for (let block = 0; block < BLOCKS; block++) {
    for (let k = 0; k < entries.length; k++) {
      const [name, op] = entries[(block + k) % entries.length]!;
      const s = stats.get(name)!;
      const wal0 = await walBytes();
      const server0 = serverCpuUs();
      const client0 = process.cpuUsage();
      for (let i = 0; i < PER_BLOCK; i++) {
        const start = performance.now();
        await op();
        s.times.push(performance.now() - start);
      }
      const client = process.cpuUsage(client0);
      s.clientUs += client.user + client.system;
      s.serverUs += serverCpuUs() - server0;
      s.wal += (await walBytes()) - wal0;
    }
  }
  console.log(`${root}: record ${record.length} B, ${BLOCKS} × ${PER_BLOCK} each, load average ${loadavg()[0]!.toFixed(1)}`);
  for (const [name, s] of stats) {
    const n = s.times.length;
    s.times.sort((a, b) => a - b);
    const at = (q: number) => s.times[Math.min(n - 1, Math.floor(n * q))]!.toFixed(3);
    console.log(
      `${name}: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms; PostgreSQL CPU ${(s.serverUs / n).toFixed(0)} µs, this process ${(s.clientUs / n).toFixed(0)} µs, WAL ${(s.wal / n).toFixed(0)} B per statement`,
    );
  }
  lease.stop();
} finally {
  await db.close().catch(() => {});
  server.destroy();
}
