// Echo: 1,000 connections over 1,000 objects, closed loop, 200 messages each.
// Torpor `webSocketMessage` echo vs raw ws echo; throughput, latency, server CPU per message.
import { interleave, startLoadgen, startSides, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow } from "./lib/stats.ts";

const CONNECTIONS = 1_000;
const MESSAGES = 200;
const ROUNDS = 3;

export async function run(): Promise<PartResult> {
  const sides = await startSides("echo", { BENCH_MODE: "echo" });
  const lg = await startLoadgen();
  try {
    const paths = Array.from({ length: CONNECTIONS }, (_, i) => `/ROOM/e${i}?u=u${i}`);
    await lg.call("connect", { group: "raw", base: wsBase(sides.raw), paths });
    await lg.call("connect", { group: "torpor", base: wsBase(sides.torpor), paths });
    for (const g of ["raw", "torpor"]) await lg.call("echo", { group: g, messages: 20 }); // warm-up (JIT, objects live)
    const results = await interleave(ROUNDS, async (side) => {
      const server = sides[side];
      const cpu0 = await server.call<number>("cpu");
      const r = await lg.call<{ roundTrips: number; elapsedMs: number; latency: { p50: number; p99: number } }>("echo", { group: side, messages: MESSAGES });
      const cpu1 = await server.call<number>("cpu");
      return { rps: r.roundTrips / (r.elapsedMs / 1000), p50: r.latency.p50, p99: r.latency.p99, cpuPerMsg: (cpu1 - cpu0) / r.roundTrips, n: r.roundTrips };
    });
    const m = (side: "raw" | "torpor", k: "rps" | "p50" | "p99" | "cpuPerMsg") => median(results[side].map((x) => x[k]));
    const rows = [
      ratioRow("echo round trips/s (1k conns × 1k objects)", m("torpor", "rps"), m("raw", "rps"), "msg/s", { min: 0.85 }),
      ratioRow("echo server CPU per message", m("torpor", "cpuPerMsg"), m("raw", "cpuPerMsg"), "µs", { max: 1.2 }),
      ratioRow("echo latency p50", m("torpor", "p50"), m("raw", "p50"), "ms", null),
      ratioRow("echo latency p99", m("torpor", "p99"), m("raw", "p99"), "ms", null),
    ];
    const notes = (["raw", "torpor"] as const).map(
      (s) => `- echo ${s}: ` + results[s].map((x) => `${fmt(x.rps)} rt/s, p50 ${fmt(x.p50)} ms, p99 ${fmt(x.p99)} ms, ${fmt(x.cpuPerMsg)} µs CPU/msg`).join("; "),
    );
    return { rows, notes };
  } finally {
    await lg.stop();
    await sides.stop();
  }
}
