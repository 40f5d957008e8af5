// Memory comes back: after a burst, does the server return to its base once idle? Both servers run
// exactly as shipped (`torpor start` with no tuning flags: cluster mode, its default hibernation
// delay; plain `ws` with no Node flags), and RSS is summed over the process tree (supervisor and
// workers) as an operator's monitoring would. Two scenarios, one after the other on each side:
// - 2,000 read-only visits, each to a different object (`GET /visit/<name>`, the object reads one
//   key and writes nothing);
// - a flood of 15,000 WebSocket connections, each to its own object, that then all close.
// For each: base RSS (idle before), peak (sampled during the burst), settled (30 s after the burst
// ended), kept = settled − base, and how long RSS took to come within 10% of base. Nothing forces
// a GC from outside: what comes back is what the server gives back on its own.
import type { Child } from "./lib/proc.ts";
import { rssOf, treeOf, treeRssOf } from "./lib/procfs.ts";
import { whereKept, type ProcessFigures } from "./memory-where.ts";
import { QUICK, rotate, startProduct, type Side } from "./lib/product.ts";
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, valueRow, ratioRow, type Row } from "./lib/stats.ts";
import { connectSpread, startLoadgens } from "./rooms.ts";

const VISITS = QUICK ? 1_000 : 2_000;
const FLOOD = QUICK ? 5_000 : 15_000;
/** The issue's promise: back within 30 s of going idle. */
const SETTLE_MS = 30_000;
const WARM = 200;
/** The CPU cost beside the memory figures: closed-loop echo over ECHO_CONNS sockets, each on its own object, at the same defaults. */
const ECHO_CONNS = 100;
const ECHO_MESSAGES = QUICK ? 100 : 200;
const ECHO_ROUNDS = QUICK ? 2 : 3;
const MIB = 2 ** 20;

interface Burst {
  base: number;
  peak: number;
  settled: number;
  /** ms after the burst ended until RSS was within 10% of base (NaN: not within the settle window). */
  backMs: number;
  series: number[];
  /** RSS of each process (torpor: supervisor first) at each second of `series`. */
  perProcess: number[][];
  /** When the burst started and when it ended (ms since the epoch): the idle collections' log is read against them. */
  startAt: number;
  endAt: number;
}

/** A side running `torpor start` (this checkout, or BENCH_BASE_ROOT's as "base"). */
const isTorpor = (side: Side) => side === "torpor" || side === "base";

/** Server RSS: the process tree of torpor start, the raw server's own process. */
function rssFn(side: Side, server: Child): () => number {
  if (isTorpor(side)) {
    const pid = server.info.pid as number;
    return () => treeRssOf(pid);
  }
  return () => rssOf(server.pid);
}

/** RSS of each process of the server (torpor: its tree, supervisor first). */
function perProcessFn(side: Side, server: Child): () => number[] {
  if (!isTorpor(side)) return () => [rssOf(server.pid)];
  const pid = server.info.pid as number;
  return () => treeOf(pid).map((p) => rssOf(p));
}

/** Runs `burst` while sampling RSS for the peak, waits for `idle`, then samples each second for SETTLE_MS. */
async function measure(rss: () => number, perProc: () => number[], base: number, burst: () => Promise<void>, idle: () => Promise<void>): Promise<Burst> {
  let peak = base;
  const startAt = Date.now();
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 100);
  try {
    await burst();
    await idle();
  } finally {
    clearInterval(sampler);
  }
  const t0 = Date.now();
  const series: number[] = [];
  const perProcess: number[][] = [];
  let backMs = Number.NaN;
  for (;;) {
    const r = rss();
    peak = Math.max(peak, r);
    series.push(r);
    perProcess.push(perProc());
    if (Number.isNaN(backMs) && r <= base * 1.1) backMs = Date.now() - t0;
    if (Date.now() - t0 >= SETTLE_MS) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return { base, peak, settled: series[series.length - 1]!, backMs, series, perProcess, startAt, endAt: t0 };
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`memory: ${what} not reached within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** No socket open on the server any more (torpor: per the admin endpoint; raw: its own count). */
function socketsClosed(side: Side, server: Child): () => Promise<boolean> {
  if (isTorpor(side)) return async () => (await server.call<{ sockets: number }>("summary")).sockets === 0;
  return async () => (await server.call<number>("connections")) === 0;
}

async function settle(rss: () => number): Promise<number> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return rss();
}

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  // Echo mode: the memory scenarios send no message; the CPU figure after them echoes.
  const product = await startProduct("memory", "echo", { workerd: false, defaults: true, pinned: false });
  const lgs = await startLoadgens();
  const vlg = await startLoadgen("loadgen-visit");
  const results: Partial<Record<Side, { visits: Burst; flood: Burst; listed: number | null }>> = {};
  let echo: Partial<Record<Side, Array<{ rps: number; cpu: number }>>> = {};
  try {
    for (const side of product.names) {
      const server = product.sides[side]!;
      const rss = rssFn(side, server);
      const perProc = perProcessFn(side, server);
      const http = `http://127.0.0.1:${server.info.port as number}`;
      const closed = socketsClosed(side, server);
      // Warm-up: both paths run once (code compiled, pools made) before the base is taken.
      await vlg.call("visit", { base: http, paths: Array.from({ length: WARM }, (_, i) => `/visit/warm${i}`) });
      await connectSpread(
        lgs,
        `warm-${side}`,
        wsBase(server),
        Array.from({ length: WARM }, (_, i) => `/ROOM/warm${i}?u=w${i}`),
      );
      await Promise.all(lgs.map((lg) => lg.call("close", { group: `warm-${side}` })));
      await waitFor(`${side}: warm-up sockets closed`, closed);
      const base = await settle(rss);
      const procs = async (when: string) => {
        if (!isTorpor(side)) return;
        const list = await server.call<Array<{ pid: number; rss: number }>>("processes");
        const gc = await server.call<{ collections: number; seconds: number }>("idleGc");
        perProcess.push(
          `${when} ${list.map((p) => fmt(p.rss / MIB)).join(" / ")} (idle collections in the workers so far: ${gc.collections}, ${fmt(gc.seconds * 1000)} ms CPU)`,
        );
      };
      const perProcess: string[] = [];
      await procs("base");

      const smapsBase = isTorpor(side) ? await server.call<ProcessFigures[]>("smaps") : [];
      const visits = await measure(
        rss,
        perProc,
        base,
        async () => void (await vlg.call("visit", { base: http, paths: Array.from({ length: VISITS }, (_, i) => `/visit/v${i}`) })),
        async () => {},
      );
      const listed = isTorpor(side) ? (await server.call<{ objects: number }>("summary")).objects : null;
      await procs("after the visits");

      const smapsVisits = isTorpor(side) ? await server.call<ProcessFigures[]>("smaps") : [];
      const flood = await measure(
        rss,
        perProc,
        visits.settled,
        async () => {
          await connectSpread(
            lgs,
            side,
            wsBase(server),
            Array.from({ length: FLOOD }, (_, i) => `/ROOM/flood${i}?u=u${i}`),
          );
          await Promise.all(lgs.map((lg) => lg.call("close", { group: side })));
        },
        () => waitFor(`${side}: flood sockets closed`, closed),
      );
      await procs("after the flood");
      results[side] = { visits, flood, listed };
      const line = (name: string, b: Burst) =>
        `${name}: base ${fmt(b.base / MIB)} MiB, peak ${fmt(b.peak / MIB)}, settled ${fmt(b.settled / MIB)} (kept ${fmt((b.settled - b.base) / MIB)} MiB, ${fmt(b.settled / b.base)}× base), within 10% of base after ${Number.isNaN(b.backMs) ? "—" : `${fmt(b.backMs / 1000)} s`}; RSS each second after: ${b.series.map((r) => fmt(r / MIB)).join(" ")}`;
      notes.push(`- ${side}, ${line(`${VISITS.toLocaleString("en-US")} read-only visits`, visits)}`);
      notes.push(`- ${side}, ${line(`flood of ${FLOOD.toLocaleString("en-US")} connections that close`, flood)}`);
      if (perProcess.length > 0) notes.push(`- ${side}: RSS per process, MiB (supervisor first): ${perProcess.join("; ")}`);
      if (listed !== null) notes.push(`- ${side}: /objects lists ${listed} objects ${SETTLE_MS / 1000} s after the visits`);
      if (isTorpor(side)) {
        const smapsFlood = await server.call<ProcessFigures[]>("smaps");
        const log = await server.call<Array<Record<string, unknown> & { at: number }>>("idleLog", { since: visits.startAt });
        notes.push(...whereKept(side, { visits, flood }, { base: smapsBase, visits: smapsVisits, flood: smapsFlood }, log));
      }
    }
    echo = await echoCpu(product.names, product.sides, vlg);
  } finally {
    await Promise.all([...lgs, vlg].map((l) => l.stop()));
    await product.stop();
  }
  const echoCpuOf = (s: Side) => (echo[s] === undefined ? undefined : median(echo[s]!.map((x) => x.cpu)));
  for (const s of product.names) {
    notes.push(`- echo after the scenarios, ${s}: ${echo[s]!.map((x) => `${fmt(x.rps)} rt/s, ${fmt(x.cpu)} µs CPU/msg`).join("; ")}`);
  }
  const kept = (s: Side, k: "visits" | "flood") => {
    const b = results[s]?.[k];
    return b === undefined ? undefined : (b.settled - b.base) / MIB;
  };
  const peak = (s: Side, k: "visits" | "flood") => {
    const b = results[s]?.[k];
    return b === undefined ? undefined : (b.peak - b.base) / MIB;
  };
  rows.push(
    ratioRow(
      `RSS kept ${SETTLE_MS / 1000} s after a flood of ${FLOOD.toLocaleString("en-US")} connections that close`,
      { raw: kept("raw", "flood"), torpor: kept("torpor", "flood")! },
      "MiB",
      { max: 1 },
    ),
    ratioRow(`RSS peak over base during the flood`, { raw: peak("raw", "flood"), torpor: peak("torpor", "flood")! }, "MiB", null),
    valueRow(`RSS kept ${SETTLE_MS / 1000} s after ${VISITS.toLocaleString("en-US")} read-only visits`, kept("torpor", "visits")!, "MiB", { max: 10 }),
    valueRow(`settled RSS over base ${SETTLE_MS / 1000} s after the flood`, results.torpor!.flood.settled / results.torpor!.flood.base, "×", { max: 1.1 }),
    valueRow(`settled RSS over base ${SETTLE_MS / 1000} s after the visits`, results.torpor!.visits.settled / results.torpor!.visits.base, "×", { max: 1.1 }),
    valueRow(`objects listed by /objects after the visits hibernated`, results.torpor!.listed!, "objects", { max: 0 }),
    ratioRow(
      `echo server CPU per message, ${ECHO_CONNS} sockets each on its own object, at the defaults (after the scenarios)`,
      { raw: echoCpuOf("raw"), torpor: echoCpuOf("torpor")! },
      "µs",
      null,
    ),
  );
  // BENCH_BASE_ROOT: the same figures for a baseline checkout's torpor start, measured in this run (an A/B of two versions).
  const base = results.base;
  if (base !== undefined) {
    const over = (b: Burst) => b.settled / b.base;
    notes.push(
      `- torpor / base (${process.env.BENCH_BASE_ROOT}): kept after the flood ${fmt(kept("torpor", "flood")!)} vs ${fmt(kept("base", "flood")!)} MiB, settled over base after the flood ${fmt(over(results.torpor!.flood))}× vs ${fmt(over(base.flood))}×, after the visits ${fmt(over(results.torpor!.visits))}× vs ${fmt(over(base.visits))}×; base RSS ${fmt(results.torpor!.visits.base / MIB)} vs ${fmt(base.visits.base / MIB)} MiB; echo CPU per message ${fmt(echoCpuOf("torpor")! / echoCpuOf("base")!)}× base's`,
    );
  }
  return { rows, notes };
}

/** Closed-loop echo over ECHO_CONNS sockets on each side (rounds rotate the sides): round trips/s and server CPU per message (summed over torpor's processes). */
async function echoCpu(names: Side[], sides: Partial<Record<Side, Child>>, lg: Child): Promise<Partial<Record<Side, Array<{ rps: number; cpu: number }>>>> {
  const cpu = (side: Side) => sides[side]!.call<number>(isTorpor(side) ? "treeCpu" : "cpu");
  for (const side of names) {
    const paths = Array.from({ length: ECHO_CONNS }, (_, i) => `/ROOM/echo${i}?u=e${i}`);
    await lg.call("connect", { group: `echo-${side}`, base: wsBase(sides[side]!), paths });
    await lg.call("echo", { group: `echo-${side}`, messages: 20 }); // warm-up (JIT)
  }
  try {
    return await rotate(names, ECHO_ROUNDS, async (side) => {
      const cpu0 = await cpu(side);
      const r = await lg.call<{ roundTrips: number; elapsedMs: number }>("echo", { group: `echo-${side}`, messages: ECHO_MESSAGES });
      return { rps: r.roundTrips / (r.elapsedMs / 1000), cpu: ((await cpu(side)) - cpu0) / r.roundTrips };
    });
  } finally {
    for (const side of names) await lg.call("close", { group: `echo-${side}` });
  }
}
