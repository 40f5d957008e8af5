// Echo: server CPU per message (and round trips/s) with 1,000 connections each to its own object,
// and with 10 sockets on one object (the per-message cost on hot sockets). Closed loop.
import { QUICK, rotate, startProduct, type Side } from "./lib/product.ts";
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, type Row } from "./lib/stats.ts";

// BENCH_ROUNDS=N: more interleaved rounds (A/B runs); BENCH_ECHO_CASES=10: only the cases whose
// connection count is listed (comma-separated), e.g. only the 10-socket case for a per-event A/B.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const ONLY = process.env.BENCH_ECHO_CASES?.split(",").map(Number);
const CASES = [
  { label: "1,000 objects", conns: 1_000, perRoom: 1, messages: QUICK ? 50 : 100 },
  { label: "10 sockets", conns: 10, perRoom: 10, messages: QUICK ? 2_000 : 5_000 },
].filter((c) => ONLY === undefined || ONLY.includes(c.conns));

export async function run(): Promise<PartResult> {
  const product = await startProduct("echo", "echo");
  const lg = await startLoadgen();
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    for (const c of CASES) {
      for (const side of product.names) {
        const paths = Array.from({ length: c.conns }, (_, i) => `/ROOM/e${c.perRoom}-${Math.floor(i / c.perRoom)}?u=u${i}`);
        await lg.call("connect", { group: `${c.label}-${side}`, base: wsBase(product.sides[side]!), paths });
        await lg.call("echo", { group: `${c.label}-${side}`, messages: 20 }); // warm-up (JIT)
      }
      const results = await rotate(product.names, ROUNDS, async (side) => {
        const server = product.sides[side]!;
        const cpu0 = await server.call<number>("cpu");
        const r = await lg.call<{ roundTrips: number; elapsedMs: number; latency: { p50: number; p99: number } }>("echo", {
          group: `${c.label}-${side}`,
          messages: c.messages,
        });
        const cpu1 = await server.call<number>("cpu");
        return { rps: r.roundTrips / (r.elapsedMs / 1000), cpu: (cpu1 - cpu0) / r.roundTrips, p50: r.latency.p50 };
      });
      const m = (s: Side, k: "rps" | "cpu") => (results[s] === undefined ? undefined : median(results[s]!.map((x) => x[k])));
      rows.push(
        ratioRow(`echo server CPU per message, ${c.label}`, { raw: m("raw", "cpu"), workerd: m("workerd", "cpu"), torpor: m("torpor", "cpu")! }, "µs", {
          max: 1.1,
        }),
      );
      rows.push(ratioRow(`echo round trips/s, ${c.label}`, { raw: m("raw", "rps"), workerd: m("workerd", "rps"), torpor: m("torpor", "rps")! }, "msg/s", null));
      // BENCH_BASE_ROOT: torpor ÷ base per message, medians of the same run (an A/B of two versions).
      if (results.base !== undefined) notes.push(`- echo ${c.label}, CPU per message torpor / base: ${fmt(m("torpor", "cpu")! / m("base", "cpu")!)}×`);
      for (const s of product.names) {
        notes.push(`- echo ${c.label}, ${s}: ` + results[s]!.map((x) => `${fmt(x.rps)} rt/s, ${fmt(x.cpu)} µs CPU/msg, p50 ${fmt(x.p50)} ms`).join("; "));
      }
      for (const side of product.names) await lg.call("close", { group: `${c.label}-${side}` });
    }
    return { rows, notes };
  } finally {
    await lg.stop();
    await product.stop();
  }
}
