// `node --conditions=@torpor/source --import tsx bench/opens.ts [rounds] [perRound]`: where an open to a new
// object goes, per process. Servers pinned to the server core, one load generator on the client core; each
// round opens `perRound` WebSockets, each to a new object (200 handshakes in flight, as `pnpm bench objects`),
// and reads each server process's CPU time from the scheduler (/proc/<pid>/task/*/schedstat) before and
// after. Sides: raw ws, the in-process runtime (servers/torpor.ts, no Worker), `torpor start --workers 1`
// (supervisor + one worker: the headline's shape on one pinned core) and, with OPENS_WORKERS2=1,
// `--workers 2` (the cross-worker hop: half the opens are for an object the other worker owns).
// OPENS_SIDES=raw,start1: a subset. BENCH_BASE_ROOT=<checkout>: that checkout's `torpor start --workers 1` too.
import { loadavg } from "node:os";
import { start, type Child } from "./lib/proc.ts";
import { runTimeOf } from "./lib/procfs.ts";
import { CLIENT_CPU, SERVER_CPU, scratchDir, startLoadgen, wsBase } from "./lib/sides.ts";
import { fmt, median } from "./lib/stats.ts";

const rounds = Number(process.argv[2] ?? 3);
const perRound = Number(process.argv[3] ?? 1_000);
const scratch = scratchDir("opens");
const want = new Set((process.env.OPENS_SIDES ?? "raw,inproc,start1,base1,start2,base2").split(","));

type Side = { name: string; child: Child; pids: () => Promise<Array<{ pid: number; comm: string }>> };
const sides: Side[] = [];
const env = { BENCH_MODE: "idle", BENCH_DIR: scratch.dir };
const flags = ["--max-semi-space-size=1"];
// With BENCH_PROFILE_DIR the in-process sides write a profile there too (torpor-start.ts reads it for the CLI).
const profiled = process.env.BENCH_PROFILE_DIR ? [...flags, "--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : flags;
if (want.has("raw")) {
  const child = await start("raw-opens", "servers/raw.ts", { cpu: SERVER_CPU, env, nodeFlags: profiled });
  sides.push({ name: "raw", child, pids: async () => [{ pid: child.pid, comm: "raw" }] });
}
if (want.has("inproc")) {
  const child = await start("inproc-opens", "servers/torpor.ts", { cpu: SERVER_CPU, env, nodeFlags: profiled });
  sides.push({ name: "in-process", child, pids: async () => [{ pid: child.pid, comm: "runtime" }] });
}
const cluster = async (name: string, workers: number, root?: string) => {
  const child = await start(`${name}-opens`, "servers/torpor-start.ts", {
    cpu: CLIENT_CPU,
    env: {
      ...env,
      BENCH_DIR: `${scratch.dir}/${name}`,
      BENCH_HIBERNATE_MS: "500",
      BENCH_SERVER_NODE_FLAGS: flags.join(" "),
      BENCH_WORKERS: String(workers),
      ...(root !== undefined ? { BENCH_TORPOR_ROOT: root } : {}),
    },
  });
  sides.push({
    name,
    child,
    pids: async () => {
      const list = await child.call<Array<{ pid: number; comm: string }>>("processes");
      // The first is the supervisor (the CLI itself), then its workers.
      return list.map((p, i) => ({ pid: p.pid, comm: i === 0 ? "supervisor" : p.comm === "node" ? `worker${i}` : p.comm }));
    },
  });
};
if (want.has("start1")) await cluster("start1", 1);
if (want.has("base1") && process.env.BENCH_BASE_ROOT) await cluster("base1", 1, process.env.BENCH_BASE_ROOT);
if (want.has("start2") && process.env.OPENS_WORKERS2 === "1") await cluster("start2", 2);
if (want.has("base2") && process.env.OPENS_WORKERS2 === "1" && process.env.BENCH_BASE_ROOT) await cluster("base2", 2, process.env.BENCH_BASE_ROOT);

const lg = await startLoadgen();
let seq = 0;
const windows: string[] = [];
const rates = new Map<string, number[]>();
const cpu = new Map<string, Map<string, number[]>>();
try {
  for (const side of sides) {
    await lg.call("connect", { group: "warm", base: wsBase(side.child), paths: Array.from({ length: 300 }, (_, i) => `/ROOM/warm${i}?u=w${i}`) });
    await lg.call("close", { group: "warm" });
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(r + k) % sides.length]!;
      const procs = await side.pids();
      const before = procs.map((p) => runTimeOf(p.pid));
      const paths = Array.from({ length: perRound }, () => `/ROOM/open${seq++}?u=u${seq}`);
      const t0 = performance.now();
      const from = process.hrtime.bigint() / 1000n;
      await lg.call("connect", { group: "g", base: wsBase(side.child), paths });
      const elapsed = performance.now() - t0;
      // The window in a --cpu-prof profile's clock (µs of the monotonic clock), for bench/profile-top.ts.
      windows.push(`${side.name} ${from} ${process.hrtime.bigint() / 1000n}`);
      const after = procs.map((p) => runTimeOf(p.pid));
      await lg.call("close", { group: "g" });
      rates.set(side.name, [...(rates.get(side.name) ?? []), perRound / (elapsed / 1000)]);
      const byProc = cpu.get(side.name) ?? new Map<string, number[]>();
      cpu.set(side.name, byProc);
      for (const [i, p] of procs.entries()) byProc.set(p.comm, [...(byProc.get(p.comm) ?? []), (after[i]! - before[i]!) / perRound]);
    }
  }
} finally {
  await lg.stop();
  // A clean exit where the process is the server (its profile is written); torpor-start.ts passes SIGTERM on.
  await Promise.all(sides.map((s) => (s.name === "raw" || s.name === "in-process" ? s.child.exit() : s.child.stop(10_000))));
  scratch.cleanup();
}
console.log(
  `${rounds} rounds × ${perRound} opens, each to a new object; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
for (const side of sides) {
  const r = rates.get(side.name)!;
  const parts = [...cpu.get(side.name)!].map(([comm, v]) => `${comm} ${fmt(median(v))} µs`);
  const total = [...cpu.get(side.name)!.values()].reduce((n, v) => n + median(v), 0);
  console.log(
    `${side.name.padEnd(11)} ${r.map((x) => fmt(x)).join(", ")} conn/s (median ${fmt(median(r))}); CPU per open ${fmt(total)} µs: ${parts.join(", ")}`,
  );
}
if (process.env.BENCH_PROFILE_DIR) console.log(`windows (µs, monotonic): ${windows.join("; ")}`);
process.exit(0);
