// Durable writes: each message is one event that writes `puts` keys, then replies (Torpor: the reply
// waits for the commit behind the output gate; raw: better-sqlite3, same schema and pragmas, one
// transaction per event, then the reply). 100 connections, closed loop, WAL, synchronous FULL and NORMAL.
import { interleave, scratchDir, startLoadgen, startSides, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, type Row } from "./lib/stats.ts";

const CONNECTIONS = 100;
const ROUNDS = 5;
const CASES = [
  { puts: 1, sync: "FULL", objects: 100, messages: 15 },
  { puts: 100, sync: "FULL", objects: 100, messages: 10 },
  { puts: 1, sync: "NORMAL", objects: 100, messages: 100 },
  { puts: 100, sync: "NORMAL", objects: 100, messages: 15 },
  // All 100 connections on one object: Torpor commits once per turn for every event of that turn.
  { puts: 1, sync: "FULL", objects: 1, messages: 30 },
] as const;

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const c of CASES) {
    const scratch = scratchDir("durable");
    const sides = await startSides("durable", { BENCH_MODE: "durable", BENCH_PUTS: String(c.puts), BENCH_SYNC: c.sync, BENCH_DIR: scratch.dir });
    const lg = await startLoadgen();
    try {
      const paths = Array.from({ length: CONNECTIONS }, (_, i) => `/ROOM/d${i % c.objects}?u=u${i}`);
      await lg.call("connect", { group: "raw", base: wsBase(sides.raw), paths });
      await lg.call("connect", { group: "torpor", base: wsBase(sides.torpor), paths });
      for (const g of ["raw", "torpor"]) await lg.call("echo", { group: g, messages: 3 });
      const results = await interleave(ROUNDS, async (side) => {
        const cpu0 = await sides[side].call<number>("cpu");
        const r = await lg.call<{ roundTrips: number; elapsedMs: number; latency: { p50: number; p99: number } }>("echo", { group: side, messages: c.messages });
        const cpu1 = await sides[side].call<number>("cpu");
        return { rps: r.roundTrips / (r.elapsedMs / 1000), p50: r.latency.p50, p99: r.latency.p99, cpu: (cpu1 - cpu0) / r.roundTrips };
      });
      const m = (side: "raw" | "torpor", k: "rps" | "p50" | "p99" | "cpu") => median(results[side].map((x) => x[k]));
      const label = `durable ${c.puts} put${c.puts > 1 ? "s" : ""}/event, ${c.sync}, ${CONNECTIONS} conns / ${c.objects} object${c.objects > 1 ? "s" : ""}`;
      rows.push(ratioRow(`${label}: events/s`, m("torpor", "rps"), m("raw", "rps"), "ev/s", c.objects === 1 ? null : { min: 0.9 }));
      rows.push(ratioRow(`${label}: server CPU/event`, m("torpor", "cpu"), m("raw", "cpu"), "µs", null));
      notes.push(
        ...(["raw", "torpor"] as const).map((s) => `- ${label}, ${s}: ` + results[s].map((x) => `${fmt(x.rps)} ev/s, ${fmt(x.cpu)} µs CPU/ev, p50 ${fmt(x.p50)} ms, p99 ${fmt(x.p99)} ms`).join("; ")),
      );
    } finally {
      await lg.stop();
      await sides.stop();
      scratch.cleanup();
    }
  }
  return { rows, notes };
}
