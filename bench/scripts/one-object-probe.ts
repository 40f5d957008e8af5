// One committing object, sequential client, one WebSocket (the level 1 of `pnpm bench multinode`'s durable part):
// for each side (--durability postgres, --durability local, workerd; with BENCH_BASE_ROOT the same two modes of that
// checkout too) it measures round trips/s and p50/p99, the CPU each process and thread used per round trip (scheduler
// run time, /proc/<pid>/task/*/schedstat) and, with PROBE_STRACE=1, the syscalls each process made per round trip
// (`strace -f -c` attached during a second block, so its figures are not the timed ones). PostgreSQL's processes are
// counted with the side that commits to it. An experiment behind bench/RESULTS.md, not a bench part. Run it under the
// bench lock, pinned to the client core as the load generator is:
//   flock /work/tools/bench.lock taskset -c 1 node --conditions=@torpor/source --import tsx bench/scripts/one-object-probe.ts
// PROBE_N round trips per block (default 3,000), PROBE_BLOCKS blocks per side, rotated (default 3),
// PROBE_SIDES=pg,local,workerd,echo,pg-floor: "echo" is a --durability local node whose object only echoes (the node's
// WebSocket path with no storage), "pg-floor" one node-pg client of this process committing 2,161-byte autocommit
// INSERTs one after another on the same PostgreSQL (a round trip is one commit; the floor under a postgres commit).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { openClusterDb } from "../../packages/postgres/src/index.ts";
import { startPgServer } from "../../packages/postgres/test/pg-server.ts";
import { loadWs } from "../lib/deps.ts";
import { startBenchNode } from "../lib/nodes.ts";
import { start } from "../lib/proc.ts";
import { treeOf } from "../lib/procfs.ts";
import { SERVER_CPU } from "../lib/sides.ts";

const N = Number(process.env.PROBE_N ?? 3_000);
const BLOCKS = Number(process.env.PROBE_BLOCKS ?? 3);
const STRACE = process.env.PROBE_STRACE === "1";
const BASE_ROOT = process.env.BENCH_BASE_ROOT;
const WANT = new Set((process.env.PROBE_SIDES ?? `pg,local,workerd,echo,pg-floor${BASE_ROOT === undefined ? "" : ",base-pg,base-local"}`).split(","));
const PAD = "x".repeat(48);
// The bench borrows dependencies from the packages that declare them (bench/lib/deps.ts): pg is @torpor/postgres's.
const pgLib = createRequire(new URL("../../packages/postgres/package.json", import.meta.url))("pg") as typeof import("pg");

interface Side {
  name: string;
  url: string;
  /** Processes to count, with a role for the figures. */
  pids(): [number, string][];
  stop(): Promise<void>;
}

const scratch = mkdtempSync(join(tmpdir(), "torpor-probe-"));
const pg = startPgServer({ fsync: true, config: ["max_connections = 200"] });
const sides: Side[] = [];
try {
  const dbUrl = (name: string) => pg.url.replace("/postgres?", `/${name}?`);
  const admin = await openClusterDb({ url: pg.url, schema: "probe_admin", skipPoolerCheck: true });
  for (const name of ["probe_pg", "probe_local", "probe_base_pg", "probe_base_local", "probe_echo"]) await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const pgPids = () =>
    treeOf(pg.pid()).map((p): [number, string] => [
      p,
      `postgres ${
        readFileSync(`/proc/${p}/cmdline`, "utf8")
          .split("\0")[0]!
          .replace(/^postgres: /, "")
          .split(" ")[0]
      }`,
    ]);
  const node = async (name: string, db: string, extra: string[], root?: string, withPg = true, mode = "sql") => {
    const n = await startBenchNode(scratch, name, dbUrl(db), mode, extra, root);
    sides.push({
      name,
      url: n.url.replace("http", "ws"),
      pids: () => [...n.pids().map((p, i): [number, string] => [p, i === 0 ? "supervisor" : "worker"]), ...(withPg ? pgPids() : [])],
      stop: () => n.stop(),
    });
  };
  if (WANT.has("pg")) await node("pg", "probe_pg", []);
  if (WANT.has("local")) await node("local", "probe_local", ["--durability", "local"], undefined, false);
  if (BASE_ROOT !== undefined && WANT.has("base-pg")) await node("base-pg", "probe_base_pg", [], BASE_ROOT);
  if (BASE_ROOT !== undefined && WANT.has("base-local")) await node("base-local", "probe_base_local", ["--durability", "local"], BASE_ROOT, false);
  if (WANT.has("echo")) await node("echo", "probe_echo", ["--durability", "local"], undefined, false, "echo");
  if (WANT.has("workerd")) {
    const w = await start("workerd-probe", "servers/workerd.ts", { cpu: SERVER_CPU, env: { BENCH_MODE: "sql", BENCH_DIR: join(scratch, "workerd") } });
    sides.push({ name: "workerd", url: `ws://127.0.0.1:${w.info.port as number}`, pids: () => [[w.info.pid as number, "workerd"]], stop: () => w.stop() });
  }

  const { WebSocket } = await loadWs();
  const trips = new Map<string, (n: number) => Promise<{ rps: number; p50: number; p99: number }>>();
  if (WANT.has("pg-floor")) {
    const client = new pgLib.Client({ connectionString: dbUrl("probe_pg") });
    await client.connect();
    await client.query("CREATE TABLE floor (id bigserial PRIMARY KEY, body bytea)");
    const backend = (client as unknown as { processID: number }).processID;
    const body = Buffer.alloc(2_161, 7);
    sides.push({
      name: "pg-floor",
      url: "",
      pids: () => [
        [process.pid, "client (this process)"],
        [backend, "postgres backend"],
      ],
      stop: () => client.end(),
    });
    trips.set("pg-floor", (n) =>
      timed(n, () => client.query({ name: "floor_insert", text: "INSERT INTO floor (body) VALUES ($1)", values: [body] }).then(() => {})),
    );
  }
  const sockets = new Map<string, InstanceType<typeof WebSocket>>();
  for (const side of sides) {
    if (trips.has(side.name)) {
      await trips.get(side.name)!(500);
      continue;
    }
    const ws = new WebSocket(`${side.url}/ROOM/probe-one?u=u0`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    sockets.set(side.name, ws);
    trips.set(side.name, (n) => roundTrips(ws, n));
    await roundTrips(ws, 500);
  }

  // Each side's CPU with no traffic (lease renewals, timers, PostgreSQL's background work): it is in every
  // block's CPU per round trip too, more of it the slower the block runs.
  const IDLE_MS = Number(process.env.PROBE_IDLE_MS ?? 5_000);
  for (const side of sides) {
    if (IDLE_MS <= 0) break;
    const before = cpuByThread(side.pids());
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const after = cpuByThread(side.pids());
    let total = 0;
    const parts: string[] = [];
    for (const [key, us] of after) {
      const d = (us - (before.get(key) ?? 0)) / (IDLE_MS / 1000);
      total += d;
      if (d >= 100) parts.push(`${key} ${d.toFixed(0)}`);
    }
    console.log(`${side.name} idle: ${total.toFixed(0)} µs of CPU per s (${parts.join(", ")})`);
  }

  const results = new Map<string, { rps: number; p50: number; p99: number; cpu: Map<string, number> }[]>();
  for (let block = 0; block < BLOCKS; block++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(block + k) % sides.length]!;
      const before = cpuByThread(side.pids());
      const load = loadavg()[0]!;
      // CLOCK_MONOTONIC in µs, the clock of a --cpu-prof profile's timestamps (bench/profile-top.ts takes the window).
      const from = process.hrtime.bigint() / 1000n;
      const r = await trips.get(side.name)!(N);
      const to = process.hrtime.bigint() / 1000n;
      const after = cpuByThread(side.pids());
      const cpu = new Map<string, number>();
      for (const [key, us] of after) cpu.set(key, (us - (before.get(key) ?? 0)) / N);
      const list = results.get(side.name) ?? [];
      list.push({ ...r, cpu });
      results.set(side.name, list);
      const total = [...cpu.values()].reduce((a, b) => a + b, 0);
      console.log(
        `${side.name} block ${block + 1}: ${r.rps.toFixed(0)} rt/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, CPU ${total.toFixed(0)} µs/rt (load ${load.toFixed(2)}; window ${from} ${to})`,
      );
      for (const [key, us] of [...cpu].sort((a, b) => b[1] - a[1])) if (us >= 5) console.log(`    ${key}: ${us.toFixed(0)} µs/rt`);
    }
  }

  if (STRACE) {
    // One tracer per process (its threads with -f), so each process's calls are counted apart.
    for (const side of sides) {
      // Not this process (the floor's client): its backend's calls are the pg side's.
      if (side.name === "pg-floor") continue;
      const pids = side.pids();
      const tracers = pids.map(([pid]) => {
        const out = join(scratch, `strace-${side.name}-${pid}.txt`);
        return { out, child: spawn("strace", ["-f", "-c", "-o", out, "-p", String(pid)], { stdio: "ignore" }) };
      });
      await new Promise((r) => setTimeout(r, 1_000));
      const r = await trips.get(side.name)!(1_000);
      for (const t of tracers) t.child.kill("SIGINT");
      await Promise.all(tracers.map((t) => new Promise((r) => (t.child.exitCode !== null ? r(null) : t.child.once("exit", r)))));
      console.log(`\n== strace -f -c, ${side.name}, 1,000 round trips (${r.rps.toFixed(0)} rt/s under strace)`);
      for (const [i, [pid, role]] of pids.entries()) {
        const lines = readFileSync(tracers[i]!.out, "utf8")
          .split("\n")
          .filter((l) => /^\s*\d/.test(l) && !l.includes("total"));
        // Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
        const calls = lines.map((l) => l.trim().split(/\s+/)).map((f) => ({ name: f[f.length - 1]!, calls: Number(f[3]), us: Number(f[2]) }));
        const total = calls.reduce((a, c) => a + c.calls, 0);
        if (total < 100) continue;
        console.log(
          `  ${role}/${pid}: ${(total / 1000).toFixed(1)} syscalls/rt: ${calls
            .filter((c) => c.calls >= 50)
            .map((c) => `${c.name} ${(c.calls / 1000).toFixed(2)} (${c.us} µs)`)
            .join(", ")}`,
        );
      }
    }
  }
  for (const ws of sockets.values()) ws.terminate();
} finally {
  for (const side of sides) await side.stop().catch(() => {});
  pg.destroy();
  rmSync(scratch, { recursive: true, force: true });
}

/** `n` sequential round trips on `ws`: rate and latency. */
function roundTrips(ws: import("ws").WebSocket, n: number): Promise<{ rps: number; p50: number; p99: number }> {
  let i = 0;
  return timed(
    n,
    () =>
      new Promise<void>((resolve) => {
        ws.once("message", () => resolve());
        ws.send(`m${i++} ${PAD}`);
      }),
  );
}

/** `n` sequential calls of `trip`: rate and latency. */
async function timed(n: number, trip: () => Promise<void>): Promise<{ rps: number; p50: number; p99: number }> {
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await trip();
    times.push(performance.now() - t);
  }
  const elapsed = performance.now() - t0;
  times.sort((a, b) => a - b);
  return { rps: n / (elapsed / 1000), p50: times[Math.floor(n * 0.5)]!, p99: times[Math.floor(n * 0.99)]! };
}

/** Scheduler run time (µs) of every thread of `pids`, keyed "role/pid: thread comm". */
function cpuByThread(pids: [number, string][]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [pid, role] of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const tcomm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
        const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
        const key = `${role}/${pid}: ${tcomm.replace(/\d+$/, "N")}`;
        out.set(key, (out.get(key) ?? 0) + ns / 1000);
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return out;
}
