// Durable echo: every message is one INSERT (its own commit, synchronous=FULL) and then the reply,
// which Torpor's output gate holds until the INSERT is on disk. 100 connections over 100 objects,
// closed loop. Baselines: raw ws + better-sqlite3 (WAL, EXCLUSIVE, FULL, one database per room,
// one autocommit INSERT per message) and workerd (miniflare, SQLite-backed objects persisted).
import { QUICK, rotate, startProduct, type Side } from "./lib/product.ts";
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, type Row } from "./lib/stats.ts";

const CONNECTIONS = 100;
const OBJECTS = 100;
// Full runs: 5 rounds × 250 messages per connection take each object's WAL past SQLite's checkpoint
// size (~1,000 one-page commits) during the measurement, so the tail includes checkpoints.
// BENCH_DURABLE_MESSAGES / BENCH_DURABLE_ROUNDS override both (short A/B runs, e.g. a bisect with BENCH_BASE_ROOT).
const MESSAGES = Number(process.env.BENCH_DURABLE_MESSAGES ?? (QUICK ? 10 : 250));
const ROUNDS = Number(process.env.BENCH_DURABLE_ROUNDS ?? (QUICK ? 2 : 5));

export async function run(): Promise<PartResult> {
  const product = await startProduct("durable", "sql", { raw: process.env.BENCH_RAW !== "0" });
  const lg = await startLoadgen();
  try {
    const paths = Array.from({ length: CONNECTIONS }, (_, i) => `/ROOM/d${i % OBJECTS}?u=u${i}`);
    for (const side of product.names) {
      await lg.call("connect", { group: side, base: wsBase(product.sides[side]!), paths });
      await lg.call("echo", { group: side, messages: 3 });
    }
    const results = await rotate(product.names, ROUNDS, async (side) => {
      const server = product.sides[side]!;
      const cpu0 = await server.call<number>("cpu");
      const r = await lg.call<{ roundTrips: number; elapsedMs: number; latency: { p50: number; p99: number; p999: number } }>("echo", {
        group: side,
        messages: MESSAGES,
        timeoutMs: 900_000,
      });
      const cpu1 = await server.call<number>("cpu");
      return { rps: r.roundTrips / (r.elapsedMs / 1000), cpu: (cpu1 - cpu0) / r.roundTrips, p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p999 };
    });
    const m = (s: Side, k: "rps" | "cpu" | "p50" | "p99" | "p999") => (results[s] === undefined ? undefined : median(results[s]!.map((x) => x[k])));
    const label = `durable echo, 1 INSERT/msg, FULL, ${OBJECTS} objects`;
    const rows: Row[] = [
      ratioRow(`${label}: round trips/s`, { raw: m("raw", "rps"), workerd: m("workerd", "rps"), torpor: m("torpor", "rps")! }, "rt/s", {
        min: 1.5,
        vs: "workerd",
      }),
      ratioRow(
        `${label}: round trips/s vs raw ws + better-sqlite3`,
        { raw: m("raw", "rps"), workerd: m("workerd", "rps"), torpor: m("torpor", "rps")! },
        "rt/s",
        null,
      ),
      ratioRow(`${label}: server CPU per message`, { raw: m("raw", "cpu"), workerd: m("workerd", "cpu"), torpor: m("torpor", "cpu")! }, "µs", null),
      ratioRow(`${label}: latency p50`, { raw: m("raw", "p50"), workerd: m("workerd", "p50"), torpor: m("torpor", "p50")! }, "ms", null),
      ratioRow(`${label}: latency p99`, { raw: m("raw", "p99"), workerd: m("workerd", "p99"), torpor: m("torpor", "p99")! }, "ms", { max: 1.5 }),
      ratioRow(`${label}: latency p999`, { raw: m("raw", "p999"), workerd: m("workerd", "p999"), torpor: m("torpor", "p999")! }, "ms", null),
    ];
    const notes = product.names.map(
      (s) =>
        `- ${label}, ${s}: ` +
        results[s]!.map((x) => `${fmt(x.rps)} rt/s, ${fmt(x.cpu)} µs CPU/msg, p50 ${fmt(x.p50)} ms, p99 ${fmt(x.p99)} ms, p999 ${fmt(x.p999)} ms`).join("; "),
    );
    // BENCH_BASE_ROOT: the same figures for a baseline checkout, measured in this run (an A/B of two versions).
    const base = (k: "rps" | "p50" | "p99" | "p999") => (m("base", k) === undefined ? undefined : m("torpor", k)! / m("base", k)!);
    if (results.base !== undefined) {
      notes.push(
        `- ${label}, torpor / base: round trips/s ${fmt(base("rps")!)}×, p50 ${fmt(base("p50")!)}×, p99 ${fmt(base("p99")!)}×, p999 ${fmt(base("p999")!)}×`,
      );
    }
    return { rows, notes };
  } finally {
    await lg.stop();
    await product.stop();
  }
}
