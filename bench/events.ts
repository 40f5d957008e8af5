// Per-event cost: echo over 10 sockets on one object (events do not batch: each message is one
// event through the whole stack), raw ws beside `torpor start`, both at the defaults users run
// (the CLI from its build, no Node flags on either side).
// 1. The figure: CPU per message, unprofiled, rounds interleaved (ABBA), CPU time read from the
//    scheduler's per-thread counters (ns; /proc's 10 ms ticks are several per cent of a round).
// 2. Where it goes: both servers again under `--cpu-prof`; each profile's busy time is split by
//    layer (bench/lib/cpuprofile.ts: a sample is charged to the innermost frame of a known layer,
//    core by module: input gate, dispatch, output gate, fault isolation...) and divided by the round
//    trips: µs of server CPU per message per layer. The profiler inflates both sides alike.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { layerTimes, newestMainProfile, profileClockUs } from "./lib/cpuprofile.ts";
import { buildPackages } from "./lib/build.ts";
import { QUICK } from "./lib/product.ts";
import { start, type Child } from "./lib/proc.ts";
import { runTimeOf } from "./lib/procfs.ts";
import { CLIENT_CPU, SERVER_CPU, scratchDir, startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, type Row } from "./lib/stats.ts";

const OUT = fileURLToPath(new URL("./.out/", import.meta.url));
/**
 * BENCH_EVENTS_OBJECTS=N: N sockets each on its own object instead of 10 on one (the per-event cost
 * when every message wakes a different object: `echo` over 1,000 objects, by layer).
 */
const OBJECTS = Number(process.env.BENCH_EVENTS_OBJECTS ?? 0);
const SOCKETS = OBJECTS > 0 ? OBJECTS : 10;
const SHAPE = OBJECTS > 0 ? `${SOCKETS} sockets each on its own object` : `${SOCKETS} sockets on one object`;
/** The path of socket `j` of a group (`room`: the object's name when all share one). */
const socketPath = (room: string, j: number): string => (OBJECTS > 0 ? `/ROOM/${room}-${j}?u=u${j}` : `/ROOM/${room}?u=u${j}`);
/**
 * Sampling interval (µs): V8's default. Finer intervals inflate torpor start far more than raw ws
 * (its tsx loader thread is profiled too, and both share the pinned core), so the run is longer instead.
 */
const INTERVAL_US = 1000;
const MESSAGES = Number(process.env.BENCH_EVENTS_MESSAGES ?? (QUICK ? 3_000 : 10_000));
/** Unprofiled rounds (each side `ROUND_MESSAGES` per socket per round), interleaved. */
const ROUNDS = Number(process.env.BENCH_EVENTS_ROUNDS ?? (QUICK ? 6 : 12));
const ROUND_MESSAGES = Number(process.env.BENCH_EVENTS_ROUND_MESSAGES ?? (QUICK ? 1_000 : 2_000));
/** BENCH_BASE_ROOT=<checkout>: a third side, "base", runs that checkout's `torpor start` in the same rounds (an A/B of two versions). */
const BASE_ROOT = process.env.BENCH_BASE_ROOT;
/** BENCH_EVENTS_PROFILE=0: only the unprofiled figure (an A/B loop does not need the layer table). */
const PROFILE = process.env.BENCH_EVENTS_PROFILE !== "0";

type Side = "raw" | "torpor" | "base";

/** The 1, 5 and 15 minute load averages (the machine is shared: reported with every figure). */
function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** Starts one side at the defaults; `profileDir`: under `--cpu-prof`, the profile written there at exit. */
function startSide(side: Side, data: string, profileDir?: string): Promise<Child> {
  const env = { BENCH_MODE: "echo", BENCH_DIR: data };
  if (side === "raw") {
    return start("raw-events", "servers/raw.ts", {
      cpu: SERVER_CPU,
      env,
      exposeGc: false,
      nodeFlags: profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-interval=${INTERVAL_US}`, `--cpu-prof-dir=${profileDir}`],
    });
  }
  return start("torpor-events", "servers/torpor-start.ts", {
    cpu: CLIENT_CPU,
    env: {
      ...env,
      BENCH_DEFAULTS: "1",
      BENCH_CLI: "dist",
      BENCH_PIN: "1",
      ...(side === "base" ? { BENCH_TORPOR_ROOT: BASE_ROOT } : {}),
      ...(profileDir === undefined ? {} : { BENCH_PROFILE_DIR: profileDir, BENCH_PROFILE_INTERVAL: String(INTERVAL_US) }),
    },
  });
}

/** The server process whose CPU is counted: raw's own, or the CLI under the wrapper (one process: one worker, pinned). */
async function serverPid(side: Side, server: Child): Promise<number> {
  if (side === "raw") return server.pid;
  const processes = await server.call<Array<{ pid: number }>>("processes");
  if (processes.length !== 1) throw new Error(`torpor start runs ${processes.length} processes; expected one (one worker)`);
  return processes[0]!.pid;
}

/**
 * The unprofiled figure: per-round CPU µs per message of each side, rounds interleaved (ABBA with two
 * sides; with a base side, each round rotates which side goes first).
 */
async function measure(data: string): Promise<Record<Side, number[]>> {
  const sides: Side[] = BASE_ROOT ? ["raw", "torpor", "base"] : ["raw", "torpor"];
  const servers = await Promise.all(sides.map((side) => startSide(side, join(data, `m-${side}`))));
  const lg = await startLoadgen();
  try {
    const pids = await Promise.all(sides.map((side, i) => serverPid(side, servers[i]!)));
    for (let i = 0; i < sides.length; i++) {
      await lg.call("connect", { group: sides[i], base: wsBase(servers[i]!), paths: Array.from({ length: SOCKETS }, (_, j) => socketPath("ev-m", j)) });
      await lg.call("echo", { group: sides[i], messages: OBJECTS > 0 ? 20 : 500 }); // warm-up (JIT)
    }
    const out: Record<Side, number[]> = { raw: [], torpor: [], base: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = sides.length === 2 ? (r % 2 === 0 ? [0, 1] : [1, 0]) : sides.map((_, k) => (r + k) % sides.length);
      for (const i of order) {
        const cpu0 = runTimeOf(pids[i]!);
        const res = await lg.call<{ roundTrips: number }>("echo", { group: sides[i], messages: ROUND_MESSAGES });
        out[sides[i]!].push((runTimeOf(pids[i]!) - cpu0) / res.roundTrips);
      }
    }
    return out;
  } finally {
    await lg.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function profileSide(side: Side, dir: string, data: string): Promise<{ perMsg: Map<string, number>; cpuUs: number; roundTrips: number; busyUs: number }> {
  mkdirSync(dir, { recursive: true });
  const server = await startSide(side, data, dir);
  const lg = await startLoadgen();
  let cpuUs = 0;
  let roundTrips = 0;
  let from = 0;
  let to = 0;
  try {
    const paths = Array.from({ length: SOCKETS }, (_, i) => socketPath("ev-0", i));
    await lg.call("connect", { group: "g", base: wsBase(server), paths });
    await lg.call("echo", { group: "g", messages: OBJECTS > 0 ? 20 : 200 }); // warm-up (JIT)
    const pid = await serverPid(side, server);
    const cpu0 = runTimeOf(pid);
    from = profileClockUs();
    const r = await lg.call<{ roundTrips: number }>("echo", { group: "g", messages: MESSAGES });
    to = profileClockUs();
    cpuUs = runTimeOf(pid) - cpu0;
    roundTrips = r.roundTrips;
    await lg.call("close", { group: "g" });
  } finally {
    await lg.stop();
    // raw: a clean exit writes the profile; torpor start: SIGTERM is its graceful stop, which exits cleanly.
    if (side === "raw") await server.exit();
    else await server.stop(60_000);
  }
  const file = newestMainProfile(dir);
  console.error(`[events] ${side}: ${file} window ${from}..${to}`);
  if (file === undefined) throw new Error(`no CPU profile from ${side} in ${dir}`);
  // Only the samples of the measured window (not start-up, not the warm-up), scaled to its CPU time.
  const { layers, busyUs } = layerTimes(file, from, to);
  const perMsg = new Map<string, number>();
  for (const [layer, us] of layers) perMsg.set(layer, ((us / busyUs) * cpuUs) / roundTrips);
  return { perMsg, cpuUs, roundTrips, busyUs };
}

export async function run(): Promise<PartResult> {
  const scratch = scratchDir("events");
  buildPackages();
  try {
    const load0 = loadAverage();
    const measured = await measure(scratch.dir);
    const load1 = loadAverage();
    const perRound = measured.torpor.map((t, i) => t / measured.raw[i]!);
    const rows: Row[] = [
      ratioRow(`per-event: echo server CPU per message at the defaults, ${SHAPE}`, { raw: median(measured.raw), torpor: median(measured.torpor) }, "µs", {
        max: 1.15,
      }),
    ];
    const notes = [
      `- at the defaults, unprofiled, ${ROUNDS} rounds × ${SHAPE} × ${ROUND_MESSAGES} messages, ${BASE_ROOT ? "order rotated per round" : "ABBA"}; load average ${load0} → ${load1}`,
      `- per round, raw: ${measured.raw.map((x) => fmt(x)).join(" ")} µs/msg; torpor start: ${measured.torpor.map((x) => fmt(x)).join(" ")} µs/msg`,
      `- torpor ÷ raw per round: ${perRound.map((x) => fmt(x)).join(" ")}; median ${fmt(median(perRound))}×`,
    ];
    if (BASE_ROOT) {
      const baseRatio = measured.base.map((b, i) => b / measured.raw[i]!);
      const ab = measured.torpor.map((t, i) => t / measured.base[i]!);
      notes.push(
        `- base (${BASE_ROOT}) per round: ${measured.base.map((x) => fmt(x)).join(" ")} µs/msg; median ${fmt(median(measured.base))}; base ÷ raw per round: ${baseRatio.map((x) => fmt(x)).join(" ")}; median ${fmt(median(baseRatio))}×`,
        `- torpor ÷ base per round: ${ab.map((x) => fmt(x)).join(" ")}; median ${fmt(median(ab))}×`,
      );
    }
    if (!PROFILE) return { rows, notes };
    // The profiles are kept in bench/.out/ (for `bench/profile-top.ts` or Chrome's DevTools).
    const raw = await profileSide("raw", join(OUT, "events-raw"), join(scratch.dir, "raw"));
    const torpor = await profileSide("torpor", join(OUT, "events-torpor"), join(scratch.dir, "torpor"));
    rows.push(
      ratioRow(
        `per-event: server CPU per message under the profiler, ${SHAPE}`,
        { raw: raw.cpuUs / raw.roundTrips, torpor: torpor.cpuUs / torpor.roundTrips },
        "µs",
        null,
      ),
    );
    const layers = [...new Set([...raw.perMsg.keys(), ...torpor.perMsg.keys()])].sort(
      (a, b) => (torpor.perMsg.get(b) ?? 0) - (raw.perMsg.get(b) ?? 0) - ((torpor.perMsg.get(a) ?? 0) - (raw.perMsg.get(a) ?? 0)),
    );
    notes.push(
      "",
      `- under the profiler: ${SHAPE}, ${MESSAGES} messages each; raw ${fmt(raw.cpuUs / raw.roundTrips)} µs/msg, torpor start ${fmt(torpor.cpuUs / torpor.roundTrips)} µs/msg under the profiler`,
      "",
      "| layer (µs of server CPU per message) | raw ws | torpor start | difference |",
      "| --- | --- | --- | --- |",
      ...layers.map((l) => {
        const r = raw.perMsg.get(l) ?? 0;
        const t = torpor.perMsg.get(l) ?? 0;
        return `| ${l} | ${fmt(r)} | ${fmt(t)} | ${t - r >= 0 ? "+" : ""}${fmt(t - r)} |`;
      }),
    );
    return { rows, notes };
  } finally {
    scratch.cleanup();
  }
}
