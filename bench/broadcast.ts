// Broadcast: 10 rooms × 100 clients; each message is fanned out to the whole room (sender included).
// Torpor `getWebSockets()` broadcast vs raw ws broadcast; deliveries/s, delivery latency, server CPU per delivery.
import { interleave, startLoadgen, startSides, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow } from "./lib/stats.ts";

const ROOMS = 10;
const ROOM_SIZE = 100;
/** Messages in flight per room (closed loop). */
const WINDOW = 4;
const WARMUP_MS = 500;
const DURATION_MS = 3_000;
const ROUNDS = 3;

export async function run(): Promise<PartResult> {
  const sides = await startSides("broadcast", { BENCH_MODE: "broadcast" });
  const lg = await startLoadgen();
  try {
    const paths = Array.from({ length: ROOMS * ROOM_SIZE }, (_, i) => `/ROOM/b${Math.floor(i / ROOM_SIZE)}?u=u${i}`);
    await lg.call("connect", { group: "raw", base: wsBase(sides.raw), paths });
    await lg.call("connect", { group: "torpor", base: wsBase(sides.torpor), paths });
    const results = await interleave(ROUNDS, async (side) => {
      const server = sides[side];
      const cpu0 = await server.call<number>("cpu");
      const r = await lg.call<{ deliveries: number; elapsedMs: number; latency: { p50: number; p99: number } }>("broadcast", {
        group: side,
        roomSize: ROOM_SIZE,
        window: WINDOW,
        warmupMs: WARMUP_MS,
        durationMs: DURATION_MS,
      });
      const cpu1 = await server.call<number>("cpu");
      // CPU is over warm-up + measured window + drain; deliveries over the window only: scale by time.
      const totalMs = WARMUP_MS + r.elapsedMs + 500;
      const dps = r.deliveries / (r.elapsedMs / 1000);
      return { dps, p50: r.latency.p50, p99: r.latency.p99, cpuPerDelivery: (cpu1 - cpu0) / (dps * (totalMs - 500) / 1000) };
    });
    const m = (side: "raw" | "torpor", k: "dps" | "p50" | "p99" | "cpuPerDelivery") => median(results[side].map((x) => x[k]));
    const rows = [
      ratioRow("broadcast deliveries/s (10 rooms × 100)", m("torpor", "dps"), m("raw", "dps"), "msg/s", { min: 0.85 }),
      ratioRow("broadcast server CPU per delivery", m("torpor", "cpuPerDelivery"), m("raw", "cpuPerDelivery"), "µs", { max: 1.15 }),
      ratioRow("broadcast latency p50", m("torpor", "p50"), m("raw", "p50"), "ms", null),
      ratioRow("broadcast latency p99", m("torpor", "p99"), m("raw", "p99"), "ms", null),
    ];
    const notes = (["raw", "torpor"] as const).map(
      (s) => `- broadcast ${s}: ` + results[s].map((x) => `${fmt(x.dps)} deliveries/s, p50 ${fmt(x.p50)} ms, p99 ${fmt(x.p99)} ms, ~${fmt(x.cpuPerDelivery)} µs CPU/delivery`).join("; "),
    );
    return { rows, notes };
  } finally {
    await lg.stop();
    await sides.stop();
  }
}
