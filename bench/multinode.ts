// Several machines on PostgreSQL (`torpor start --cluster`), on one PostgreSQL 15 with fsync on (a throwaway
// server started by the bench, Unix socket, synchronous_commit on):
// - durable echo (one INSERT per message, acknowledged after its commit) at 1, 10, 100 and 1,000 objects committing
//   at once: --durability postgres vs --durability local vs workerd (local disk), round trips/s and p50/p99;
//   objects per PostgreSQL transaction and bytes shipped per commit (pg_stat_statements and the log table);
// - restore time of a 100 KB, a 10 MB and a 100 MB object (claim + snapshot + log, in process), the node taking
//   them over at the shipped per-query deadline (5 s);
// - with two nodes: the extra latency of a call and of a WebSocket message proxied through the node that does not
//   hold the object, and the failover time from SIGKILL of the owner to the first answer through the other node.
// BENCH_MULTINODE=durable,restore,pair runs only those parts (all by default).
// BENCH_BASE_ROOT=<checkout>: the durable echo (--durability postgres) and the failover are measured for that
// checkout's nodes too, in the same run (an A/B). BENCH_MULTINODE_LEVELS=1,10 picks the durable part's levels,
// BENCH_MULTINODE_COMMITS its commits per level and round (default 2,000).
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DurableObject, Runtime, silentLogger } from "../packages/core/src/index.ts";
import { LogShipper, NodeLease, ObjectLog, SlotLeases, openClusterDb, postgresStorage, type ClusterDb } from "../packages/postgres/src/index.ts";
import { startPgServer, type PgServer } from "../packages/postgres/test/pg-server.ts";
import { loadWs } from "./lib/deps.ts";
import { startBenchNode, type BenchNode } from "./lib/nodes.ts";
import { start, type Child } from "./lib/proc.ts";
import { QUICK, WITH_WORKERD } from "./lib/product.ts";
import { SERVER_CPU, startLoadgen, type PartResult } from "./lib/sides.ts";
import { fmt, Hist, median, ratioRow, valueRow, type Row } from "./lib/stats.ts";

const LEVELS = process.env.BENCH_MULTINODE_LEVELS?.split(",").map(Number) ?? (QUICK ? [1, 10, 100] : [1, 10, 100, 1_000]);
/** Messages per connection per round: about the same number of commits at every level (BENCH_MULTINODE_COMMITS of them). */
const COMMITS = Number(process.env.BENCH_MULTINODE_COMMITS ?? (QUICK ? 600 : 2_000));
const messagesAt = (c: number) => Math.max(QUICK ? 2 : 3, Math.round(COMMITS / c));
const ROUNDS = QUICK ? 1 : 3;
const TTL_MS = 10_000;
const PARTS = new Set((process.env.BENCH_MULTINODE ?? "durable,restore,pair").split(","));
const BASE_ROOT = process.env.BENCH_BASE_ROOT;

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "torpor-bench-multinode-"));
  const pg = startPgServer({ fsync: true, config: ["shared_preload_libraries = 'pg_stat_statements'", "max_connections = 200"] });
  try {
    const dbUrl = (name: string) => pg.url.replace("/postgres?", `/${name}?`);
    const admin = await openClusterDb({ url: pg.url, schema: "bench_admin", skipPoolerCheck: true });
    for (const name of ["bench_pg", "bench_pg_base", "bench_local", "bench_pair", "bench_pair_base"]) await admin.query(`CREATE DATABASE ${name}`);
    await admin.close();
    if (PARTS.has("durable")) await durable(pg, dbUrl, scratch, rows, notes);
    if (PARTS.has("restore")) await restore(pg, rows, notes);
    if (PARTS.has("pair")) await pair(dbUrl("bench_pair"), scratch, rows, notes, BASE_ROOT === undefined ? null : dbUrl("bench_pair_base"));
  } finally {
    pg.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
  return { rows, notes };
}

type Side = "postgres" | "base" | "local" | "workerd";

async function durable(pg: PgServer, dbUrl: (name: string) => string, scratch: string, rows: Row[], notes: string[]): Promise<void> {
  const stats = await openClusterDb({ url: dbUrl("bench_pg"), schema: "torpor", skipPoolerCheck: true });
  await stats.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const servers: Partial<Record<Side, { base: string; stop(): Promise<void> }>> = {};
  const [pgNode, baseNode, localNode, workerd] = await Promise.all([
    startBenchNode(scratch, "pg", dbUrl("bench_pg"), "sql"),
    BASE_ROOT === undefined ? null : startBenchNode(scratch, "pg-base", dbUrl("bench_pg_base"), "sql", [], BASE_ROOT),
    startBenchNode(scratch, "local", dbUrl("bench_local"), "sql", ["--durability", "local"]),
    WITH_WORKERD
      ? start("workerd-multinode", "servers/workerd.ts", { cpu: SERVER_CPU, env: { BENCH_MODE: "sql", BENCH_DIR: join(scratch, "workerd") } })
      : null,
  ]);
  servers.postgres = { base: pgNode.url.replace("http", "ws"), stop: () => pgNode.stop() };
  if (baseNode !== null) servers.base = { base: baseNode.url.replace("http", "ws"), stop: () => baseNode.stop() };
  servers.local = { base: localNode.url.replace("http", "ws"), stop: () => localNode.stop() };
  if (workerd !== null) servers.workerd = { base: `ws://127.0.0.1:${(workerd as Child).info.port as number}`, stop: () => (workerd as Child).stop() };
  const sides = Object.keys(servers) as Side[];
  const lg = await startLoadgen("loadgen-multinode");
  try {
    for (const c of LEVELS) {
      const results: Record<string, { rps: number; p50: number; p99: number }[]> = {};
      const shipped: { perTx: number; bytes: number }[] = [];
      for (const side of sides) {
        results[side] = [];
        await lg.call("connect", { group: `${side}-${c}`, base: servers[side]!.base, paths: Array.from({ length: c }, (_, i) => `/ROOM/c${c}-${i}?u=u${i}`) });
        await lg.call("echo", { group: `${side}-${c}`, messages: 2 });
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < sides.length; k++) {
          const side = sides[(round + k) % sides.length]!;
          const before = side === "postgres" ? await logStats(stats) : null;
          const r = await lg.call<{ roundTrips: number; elapsedMs: number; latency: { p50: number; p99: number } }>("echo", {
            group: `${side}-${c}`,
            messages: messagesAt(c),
            timeoutMs: 300_000,
          });
          results[side]!.push({ rps: r.roundTrips / (r.elapsedMs / 1000), p50: r.latency.p50, p99: r.latency.p99 });
          if (before !== null) {
            const after = await logStats(stats);
            const records = after.records - before.records;
            shipped.push({ perTx: records / Math.max(1, after.statements - before.statements), bytes: (after.bytes - before.bytes) / Math.max(1, records) });
          }
        }
      }
      for (const side of sides) await lg.call("close", { group: `${side}-${c}` });
      const m = (side: Side, k: "rps" | "p50" | "p99") => (results[side] === undefined ? Number.NaN : median(results[side]!.map((x) => x[k])));
      const label = `multinode durable echo, 1 INSERT/msg, ${c.toLocaleString("en-US")} object${c === 1 ? "" : "s"}`;
      // Columns: "raw ws" holds --durability local (this node's disk), "torpor start" --durability postgres.
      rows.push(
        ratioRow(`${label}: round trips/s, postgres (baseline: workerd, local disk)`, { workerd: m("workerd", "rps"), torpor: m("postgres", "rps") }, "rt/s", {
          min: 1,
          vs: "workerd",
        }),
      );
      rows.push(ratioRow(`${label}: round trips/s, postgres vs --durability local`, { raw: m("local", "rps"), torpor: m("postgres", "rps") }, "rt/s", null));
      if (servers.base !== undefined) {
        rows.push(
          ratioRow(
            `${label}: round trips/s, postgres (baseline: ${BASE_ROOT}, postgres, same run)`,
            { raw: m("base", "rps"), torpor: m("postgres", "rps") },
            "rt/s",
            null,
          ),
        );
        rows.push(
          ratioRow(`${label}: latency p50, postgres (baseline: ${BASE_ROOT}, postgres)`, { raw: m("base", "p50"), torpor: m("postgres", "p50") }, "ms", null),
        );
        notes.push(
          `- ${label}: base postgres / workerd ${fmt(m("base", "rps") / m("workerd", "rps"))}×, this checkout's ${fmt(m("postgres", "rps") / m("workerd", "rps"))}×`,
        );
      }
      rows.push(
        ratioRow(
          `${label}: latency p50 (raw column: local)`,
          { raw: m("local", "p50"), workerd: m("workerd", "p50"), torpor: m("postgres", "p50") },
          "ms",
          null,
        ),
      );
      rows.push(
        ratioRow(
          `${label}: latency p99 (raw column: local)`,
          { raw: m("local", "p99"), workerd: m("workerd", "p99"), torpor: m("postgres", "p99") },
          "ms",
          null,
        ),
      );
      rows.push(valueRow(`${label}: objects per PostgreSQL transaction`, median(shipped.map((s) => s.perTx)), "objects"));
      rows.push(valueRow(`${label}: bytes shipped per commit`, median(shipped.map((s) => s.bytes)), "B"));
      for (const side of sides) {
        notes.push(`- ${label}, ${side}: ${results[side]!.map((x) => `${fmt(x.rps)} rt/s p50 ${fmt(x.p50)} ms p99 ${fmt(x.p99)} ms`).join("; ")}`);
      }
      notes.push(`- ${label}, postgres shipping: ${shipped.map((s) => `${fmt(s.perTx)} objects/transaction, ${fmt(s.bytes)} B/commit`).join("; ")}`);
    }
  } finally {
    await lg.stop();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await stats.close();
  }
}

/** Commit statements run, records written and their bytes, so far. */
async function logStats(db: ClusterDb): Promise<{ statements: number; records: number; bytes: number }> {
  // This database's statements only: the base side commits to its own database on the same server.
  const s = await db.query<{ calls: string | null }>(
    "SELECT sum(calls) AS calls FROM pg_stat_statements WHERE (query LIKE '%WITH v AS (%' OR query LIKE '%WITH up AS (%') AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
  );
  const l = await db.query<{ n: string; bytes: string | null }>("SELECT count(*) AS n, sum(octet_length(record)) AS bytes FROM torpor.log");
  return { statements: Number(s.rows[0]?.calls ?? 0), records: Number(l.rows[0]!.n), bytes: Number(l.rows[0]!.bytes ?? 0) };
}

class Blob extends DurableObject {
  async fill(bytes: number) {
    const chunk = "x".repeat(2_000);
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS blobs (i INTEGER PRIMARY KEY, body TEXT)");
    for (let i = 0; i * 2_000 < bytes; i++) this.ctx.storage.sql.exec("INSERT INTO blobs (body) VALUES (?)", chunk);
    return this.ctx.storage.sql.databaseSize;
  }
}

/** Restore time of a 100 KB, a 10 MB and a 100 MB object on a node taking them over (claim, snapshot + log, rebuild). */
async function restore(pg: PgServer, rows: Row[], notes: string[]): Promise<void> {
  // The writer fills each object in one call (one commit: a 100 MB record) and snapshots it: a long deadline. The
  // node taking them over runs at the shipped per-query deadline (5 s), as a node does: a restore reads a few MiB
  // per query, so it must succeed whatever the object's size.
  const writerDb = await openClusterDb({ url: pg.url, schema: "bench_restore", queryTimeoutMs: 120_000 });
  const takerDb = await openClusterDb({ url: pg.url, schema: "bench_restore" });
  const dirs: string[] = [];
  const node = async (nodeId: string, db: ClusterDb) => {
    const dir = mkdtempSync(join(tmpdir(), `torpor-bench-restore-${nodeId}-`));
    dirs.push(dir);
    const lease = await NodeLease.join(db, { nodeId, address: "-", ttlMs: 60_000 });
    const slots = new SlotLeases(db, nodeId);
    await slots.rebalance();
    const log = new ObjectLog(db);
    const storage = postgresStorage({ dir, nodeId, log, shipper: new LogShipper(log), slotEpoch: (s) => slots.owned.get(s) ?? null });
    const runtime = new Runtime({ objects: { BLOB: Blob }, storage, logger: silentLogger });
    return { lease, storage, runtime };
  };
  try {
    const a = await node("writer", writerDb);
    const sizes = [100_000, 10_000_000, 100_000_000];
    const actual: number[] = [];
    for (const size of sizes) actual.push(await a.runtime.namespace<Blob>("BLOB").getByName(`blob-${size}`).fill(size));
    // Hibernated: the log is folded into a snapshot, as it would be before a failover in steady state.
    await a.runtime.hibernateAll();
    await a.storage.snapshotsSettled();
    a.lease.stop();
    await writerDb.query(`UPDATE ${writerDb.tables.nodes} SET expires_at = now() - interval '1 millisecond'`);
    const b = await node("taker", takerDb);
    for (const [i, size] of sizes.entries()) {
      const ns = b.runtime.namespace<Blob>("BLOB");
      const id = ns.idFromName(`blob-${size}`);
      const t = performance.now();
      await b.storage.prepare!({ namespace: "BLOB", id: id.toString(), name: `blob-${size}` });
      const ms = performance.now() - t;
      const label = size >= 1_000_000 ? `${size / 1_000_000} MB` : `${size / 1_000} KB`;
      rows.push(valueRow(`multinode: restore a ${label} object on the node taking it over (claim + snapshot + log)`, ms, "ms"));
      // Printed at once: the part's table comes only at its end, and a failure later in the part would lose it.
      console.error(`[bench] restore ${label}: ${fmt(ms)} ms (load average ${loadavg()[0]!.toFixed(1)})`);
      notes.push(
        `- restore ${label} (database ${fmt(actual[i]! / 1024)} KiB, 5 s per-query deadline, load average ${loadavg()[0]!.toFixed(1)}): ${fmt(ms)} ms`,
      );
    }
    if (BASE_ROOT !== undefined) {
      const ns = b.runtime.namespace<Blob>("BLOB");
      const keys = sizes.map((size) => ({ namespace: "BLOB", id: ns.idFromName(`blob-${size}`).toString(), name: `blob-${size}` }));
      await loadAB(pg, keys, notes, rows);
    }
    b.lease.stop();
    await a.runtime.close();
    await b.runtime.close();
  } finally {
    await writerDb.close();
    await takerDb.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * The transfer part of a restore (`ObjectLog.load`: snapshot + log, read-only) with this checkout's code and with
 * BENCH_BASE_ROOT's, alternating, 3 times each per size, at the shipped 5 s per-query deadline.
 */
async function loadAB(pg: PgServer, keys: { namespace: string; id: string; name: string }[], notes: string[], rows: Row[]): Promise<void> {
  type LogModule = typeof import("../packages/postgres/src/index.ts");
  const base = (await import(join(BASE_ROOT!, "packages/postgres/src/index.ts"))) as LogModule;
  const mineDb = await openClusterDb({ url: pg.url, schema: "bench_restore" });
  const baseDb = await base.openClusterDb({ url: pg.url, schema: "bench_restore" });
  try {
    const sides = { mine: new ObjectLog(mineDb), base: new base.ObjectLog(baseDb) };
    for (const key of keys) {
      const size = Number(key.name.slice("blob-".length));
      const times: Record<"mine" | "base", number[]> = { mine: [], base: [] };
      for (let i = 0; i < 3; i++) {
        for (const side of (i % 2 === 0 ? ["mine", "base"] : ["base", "mine"]) as ("mine" | "base")[]) {
          const t = performance.now();
          await sides[side].load(key);
          times[side].push(performance.now() - t);
        }
      }
      const label = size >= 1_000_000 ? `${size / 1_000_000} MB` : `${size / 1_000} KB`;
      rows.push(
        ratioRow(
          `multinode: load a ${label} object's snapshot + log (baseline: ${BASE_ROOT}, same run)`,
          { raw: median(times.base), torpor: median(times.mine) },
          "ms",
          null,
        ),
      );
      notes.push(
        `- load ${label} (snapshot + log, load average ${loadavg()[0]!.toFixed(1)}): this checkout ${times.mine.map((x) => fmt(x)).join(", ")} ms; base ${times.base.map((x) => fmt(x)).join(", ")} ms`,
      );
      console.error(`[bench] load ${label}: ${fmt(median(times.mine))} ms vs base ${fmt(median(times.base))} ms (load average ${loadavg()[0]!.toFixed(1)})`);
    }
  } finally {
    await mineDb.close();
    await baseDb.close();
  }
}

/** Two nodes of the checkout `cliRoot` on `url`, once they split the slots; `owner` holds the object "latency". */
async function startPair(url: string, scratch: string, names: [string, string], cliRoot?: string) {
  const nodes = await Promise.all(names.map((name) => startBenchNode(scratch, name, url, "echo", [], cliRoot)));
  const db = await openClusterDb({ url, schema: "torpor", skipPoolerCheck: true });
  try {
    // Wait until the slots are split (the first node hands half over to the second).
    for (const deadline = Date.now() + 120_000; ; ) {
      const owners = await db.query<{ n: string }>("SELECT count(DISTINCT owner) AS n FROM torpor.slots WHERE owner IS NOT NULL");
      if (Number(owners.rows[0]!.n) === 2) break;
      if (Date.now() > deadline) throw new Error("the two nodes did not split the slots within 120 s");
      await new Promise((r) => setTimeout(r, 250));
    }
    // While slots are handed over, a slot can be briefly nobody's (ERR_OBJECT_UNAVAILABLE): the first visit is retried.
    for (const deadline = Date.now() + 60_000; ; ) {
      const ok = await fetch(`${nodes[0]!.url}/visit/latency`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error("the object latency did not answer within 60 s");
      await new Promise((r) => setTimeout(r, 250));
    }
    const owner = await ownerOf(db, nodes, "latency");
    return { nodes, db, owner, other: nodes.find((n) => n !== owner)! };
  } catch (error) {
    await db.close();
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}

/** SIGKILL of the owner's whole node; ms until the other node answers for its object. */
async function failover(owner: BenchNode, other: BenchNode): Promise<number> {
  const killed = Date.now();
  owner.kill("SIGKILL");
  for (const deadline = killed + 120_000; Date.now() < deadline; ) {
    const ok = await fetch(`${other.url}/visit/latency`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return Date.now() - killed;
    await new Promise((r) => setTimeout(r, 50));
  }
  return Number.NaN;
}

/** Two nodes: proxied vs direct latency of a call and a WebSocket echo, then failover after SIGKILL of the owner. */
async function pair(url: string, scratch: string, rows: Row[], notes: string[], baseUrl: string | null): Promise<void> {
  const { nodes, db, owner, other } = await startPair(url, scratch, ["pa", "pb"]);
  try {
    const calls = QUICK ? 200 : 1_000;
    const call = async (node: BenchNode) => {
      const h = new Hist();
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await (await fetch(`${node.url}/visit/latency`)).text();
        h.add(performance.now() - t);
      }
      return h.summary();
    };
    await call(owner);
    await call(other);
    const direct = await call(owner);
    const proxied = await call(other);
    rows.push(ratioRow("multinode: call p50, proxied through a non-owner (baseline: to the owner)", { raw: direct.p50, torpor: proxied.p50 }, "ms", null));
    notes.push(
      `- call (GET → object fetch), ${calls} sequential: direct p50 ${fmt(direct.p50)} p99 ${fmt(direct.p99)} ms; proxied p50 ${fmt(proxied.p50)} p99 ${fmt(proxied.p99)} ms`,
    );

    // WebSocket echo: the same object through its owner (direct), through the other node (spliced there to the
    // owner), and through a bare TCP relay to the owner (one extra Node process, nothing of Torpor: what any hop
    // costs here now). Messages alternate between the three sockets, so a change of the machine's load during the
    // run (other processes; the figures are p99s of sub-millisecond round trips) falls on all three alike.
    const ws = await loadWs();
    const ownerUrl = new URL(owner.url);
    const relay = await start("tcp-relay", "servers/tcp-relay.ts", { cpu: SERVER_CPU, env: { BENCH_TARGET: `${ownerUrl.hostname}:${ownerUrl.port}` } });
    try {
      const open = async (base: string) => {
        const sock = new ws.WebSocket(`${base.replace("http", "ws")}/ROOM/latency?u=x`, { perMessageDeflate: false });
        await new Promise((resolve, reject) => {
          sock.once("open", resolve);
          sock.once("error", reject);
        });
        return sock;
      };
      const echo = async (n: number) => {
        const socks = [await open(owner.url), await open(other.url), await open(`http://127.0.0.1:${relay.info.port as number}`)];
        const hists = socks.map(() => new Hist());
        const payload = "x".repeat(64);
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < socks.length; k++) {
            const j = (i + k) % socks.length;
            const sock = socks[j]!;
            const t = performance.now();
            await new Promise<void>((resolve) => {
              sock.once("message", () => resolve());
              sock.send(payload);
            });
            hists[j]!.add(performance.now() - t);
          }
        }
        for (const sock of socks) sock.terminate();
        const [direct, spliced, relayed] = hists.map((h) => h.summary());
        return { direct: direct!, spliced: spliced!, relayed: relayed! };
      };
      const messages = QUICK ? 500 : 3_000;
      await echo(200);
      const load = loadavg()[0]!;
      const r = await echo(messages);
      rows.push(valueRow("multinode: WebSocket echo p99, spliced through a non-owner minus direct", r.spliced.p99 - r.direct.p99, "ms", { max: 1.5 }));
      rows.push(valueRow("multinode: WebSocket echo p99, bare TCP relay minus direct (one extra process, same run)", r.relayed.p99 - r.direct.p99, "ms"));
      rows.push(ratioRow("multinode: WebSocket echo p50, spliced (baseline: direct)", { raw: r.direct.p50, torpor: r.spliced.p50 }, "ms", null));
      notes.push(
        `- WebSocket echo, ${messages} sequential 64-byte messages per socket, alternating between the three (load average ${load.toFixed(1)} at the start): direct p50 ${fmt(r.direct.p50)} p99 ${fmt(r.direct.p99)} ms; spliced through the other node p50 ${fmt(r.spliced.p50)} p99 ${fmt(r.spliced.p99)} ms; bare TCP relay p50 ${fmt(r.relayed.p50)} p99 ${fmt(r.relayed.p99)} ms`,
      );
    } finally {
      await relay.stop();
    }

    // Failover: SIGKILL the owner's whole node; time until the other node answers for its object.
    const load = loadavg()[0]!;
    const answered = await failover(owner, other);
    rows.push(
      valueRow(`multinode: failover, SIGKILL of the owner to the first answer through another node (lease TTL ${TTL_MS / 1000} s)`, answered, "ms", {
        max: TTL_MS + 2_000,
      }),
    );
    notes.push(`- failover after SIGKILL: ${fmt(answered)} ms (TTL ${TTL_MS} ms, load average ${load.toFixed(1)})`);
  } finally {
    await db.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
  if (baseUrl === null) return;
  // The same failover for the baseline checkout's nodes, in this run (after this checkout's: the order is noted).
  const base = await startPair(baseUrl, scratch, ["qa", "qb"], BASE_ROOT);
  try {
    const load = loadavg()[0]!;
    const answered = await failover(base.owner, base.other);
    const mine = rows.find((r) => r.figure.startsWith("multinode: failover"))!.torpor;
    rows.push(ratioRow(`multinode: failover after SIGKILL, this checkout (baseline: ${BASE_ROOT}, same run)`, { raw: answered, torpor: mine }, "ms", null));
    notes.push(
      `- failover after SIGKILL, baseline ${BASE_ROOT}: ${fmt(answered)} ms (TTL ${TTL_MS} ms, load average ${load.toFixed(1)}; measured after this checkout's)`,
    );
  } finally {
    await base.db.close();
    await Promise.all(base.nodes.map((n) => n.stop()));
  }
}

async function ownerOf(db: ClusterDb, nodes: BenchNode[], name: string): Promise<BenchNode> {
  const row = await db.query<{ owner: string }>("SELECT owner FROM torpor.objects WHERE name = $1", [name]);
  const id = row.rows[0]?.owner;
  // An object that never wrote has no row: its slot's owner holds it.
  if (id === undefined) throw new Error(`no owner recorded for ${name}`);
  return nodes.find((n) => n.nodeId === id)!;
}
