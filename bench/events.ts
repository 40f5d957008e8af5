// Per-event cost by layer: echo over 10 sockets on one object (events do not batch: each message is
// one event through the whole stack), raw ws beside torpor start, both under `--cpu-prof`. Each
// profile's busy time is split by layer (bench/lib/cpuprofile.ts: a sample is charged to the
// innermost frame of a known layer) and divided by the round trips: µs of server CPU per message
// per layer. The profiler's own cost inflates both sides alike; the unprofiled figure is `echo`'s.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { layerTimes, newestMainProfile, profileClockUs } from "./lib/cpuprofile.ts";
import { QUICK } from "./lib/product.ts";
import { start, type Child } from "./lib/proc.ts";
import { CLIENT_CPU, SERVER_CPU, scratchDir, startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, ratioRow, type Row } from "./lib/stats.ts";

const OUT = fileURLToPath(new URL("./.out/", import.meta.url));
const SOCKETS = 10;
/**
 * Sampling interval (µs): V8's default. Finer intervals inflate torpor start far more than raw ws
 * (its tsx loader thread is profiled too, and both share the pinned core), so the run is longer instead.
 */
const INTERVAL_US = 1000;
const MESSAGES = Number(process.env.BENCH_EVENTS_MESSAGES ?? (QUICK ? 3_000 : 10_000));

type Side = "raw" | "torpor";

async function profileSide(side: Side, dir: string, data: string): Promise<{ perMsg: Map<string, number>; cpuUs: number; roundTrips: number; busyUs: number }> {
  mkdirSync(dir, { recursive: true });
  const env = { BENCH_MODE: "echo", BENCH_DIR: data };
  const server: Child =
    side === "raw"
      ? await start("raw-events", "servers/raw.ts", {
          cpu: SERVER_CPU,
          env,
          nodeFlags: ["--cpu-prof", `--cpu-prof-interval=${INTERVAL_US}`, `--cpu-prof-dir=${dir}`],
        })
      : await start("torpor-events", "servers/torpor-start.ts", {
          cpu: CLIENT_CPU,
          env: {
            ...env,
            BENCH_HIBERNATE_MS: "600000",
            BENCH_SERVER_NODE_FLAGS: "",
            BENCH_PIN: "1",
            BENCH_PROFILE_DIR: dir,
            BENCH_PROFILE_INTERVAL: String(INTERVAL_US),
          },
        });
  const lg = await startLoadgen();
  let cpuUs = 0;
  let roundTrips = 0;
  let from = 0;
  let to = 0;
  try {
    const paths = Array.from({ length: SOCKETS }, (_, i) => `/ROOM/ev-0?u=u${i}`);
    await lg.call("connect", { group: "g", base: wsBase(server), paths });
    await lg.call("echo", { group: "g", messages: 200 }); // warm-up (JIT)
    const cpu0 = await server.call<number>("cpu");
    from = profileClockUs();
    const r = await lg.call<{ roundTrips: number }>("echo", { group: "g", messages: MESSAGES });
    to = profileClockUs();
    cpuUs = (await server.call<number>("cpu")) - cpu0;
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
  try {
    // The profiles are kept in bench/.out/ (for `bench/profile-top.ts` or Chrome's DevTools).
    const raw = await profileSide("raw", join(OUT, "events-raw"), join(scratch.dir, "raw"));
    const torpor = await profileSide("torpor", join(OUT, "events-torpor"), join(scratch.dir, "torpor"));
    const rows: Row[] = [
      ratioRow(
        `per-event: server CPU per message under the profiler, ${SOCKETS} sockets on one object`,
        { raw: raw.cpuUs / raw.roundTrips, torpor: torpor.cpuUs / torpor.roundTrips },
        "µs",
        null,
      ),
    ];
    const layers = [...new Set([...raw.perMsg.keys(), ...torpor.perMsg.keys()])].sort(
      (a, b) => (torpor.perMsg.get(b) ?? 0) - (raw.perMsg.get(b) ?? 0) - ((torpor.perMsg.get(a) ?? 0) - (raw.perMsg.get(a) ?? 0)),
    );
    const notes = [
      `- ${SOCKETS} sockets, ${MESSAGES} messages each; raw ${fmt(raw.cpuUs / raw.roundTrips)} µs/msg, torpor start ${fmt(torpor.cpuUs / torpor.roundTrips)} µs/msg under the profiler`,
      "",
      "| layer (µs of server CPU per message) | raw ws | torpor start | difference |",
      "| --- | --- | --- | --- |",
      ...layers.map((l) => {
        const r = raw.perMsg.get(l) ?? 0;
        const t = torpor.perMsg.get(l) ?? 0;
        return `| ${l} | ${fmt(r)} | ${fmt(t)} | ${t - r >= 0 ? "+" : ""}${fmt(t - r)} |`;
      }),
    ];
    return { rows, notes };
  } finally {
    scratch.cleanup();
  }
}
