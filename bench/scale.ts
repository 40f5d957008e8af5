// Many idle one-socket objects on one machine (issue 23 item 7): `torpor start --workers W` holds N
// WebSockets, each to its own object, all hibernated; beside it a raw `ws` server holding as many
// as its own fd cap allows (one process). Optional: `pnpm bench scale` (not in the default run).
// - sockets held (asked N; the part stops opening when its time budget runs out and reports what it held);
// - summed RSS of the supervisor and workers per socket (30 s after all hibernated, over a base with
//   100 warm-up sockets taken the same way: by then each process's idle collection ran, and its
//   second, young-generation pass; issue 27) against raw ws per socket;
// - open rate (conn/s) against raw ws opening its count;
// - a sample of the sockets still echoes afterwards.
// Clients come from several load-generator processes, each from its own loopback address (a process
// may hold at most 20,000 fds here, and one source address has ~28k ephemeral ports).
// BENCH_SCALE_SOCKETS (default 10,000; quick 4,000), BENCH_SCALE_WORKERS (default 2),
// BENCH_SCALE_BUDGET_MS (default 300,000: opening stops there) size it: the issue's run was
// 102,000 sockets with --workers 8 and 6 load generators.
import { execSync } from "node:child_process";
import type { Child } from "./lib/proc.ts";
import { rssOf } from "./lib/procfs.ts";
import { QUICK, startProduct, waitHibernated, type Side } from "./lib/product.ts";
import { wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, ratioRow, valueRow, type Row } from "./lib/stats.ts";
import { startLoadgens } from "./rooms.ts";

const SOCKETS = Number(process.env.BENCH_SCALE_SOCKETS ?? (QUICK ? 4_000 : 10_000));
const WORKERS = Number(process.env.BENCH_SCALE_WORKERS ?? 2);
const BUDGET_MS = Number(process.env.BENCH_SCALE_BUDGET_MS ?? 300_000);
const FD_CAP = Number(execSync("sh -c 'ulimit -Hn'").toString().trim()) || 20_000;
/** What one raw ws process can hold: its fd cap less a margin for its own files. */
const RAW_CAP = FD_CAP - 500;
/** Sockets per load generator (each is one process, capped like the server). */
const PER_LOADGEN = 15_000;
const WARM = 100;
const SAMPLE = 100;
const IDLE_MS = 30_000;
const BATCH = 1_000;

interface SideFigures {
  held: number;
  rate: number;
  perSocket: number;
  base: number;
  rss: number;
  echoed: number;
  sampled: number;
}

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const rawCount = Math.min(SOCKETS, RAW_CAP);
  const lgs = await startLoadgens(Math.max(2, Math.ceil((SOCKETS + WARM) / PER_LOADGEN)));
  // At the defaults (no Node flags, the default hibernation delay), unpinned: the supervisor and W workers on every core.
  // The worker count goes to the torpor-start wrapper in its environment (BENCH_WORKERS), for this part only.
  const before = process.env.BENCH_WORKERS;
  process.env.BENCH_WORKERS = String(WORKERS);
  const product = await startProduct("scale", "echo", { workerd: false, defaults: true, pinned: false }).finally(() => {
    if (before === undefined) delete process.env.BENCH_WORKERS;
    else process.env.BENCH_WORKERS = before;
  });
  const per: Partial<Record<Side, SideFigures>> = {};
  const deadline = Date.now() + BUDGET_MS;
  try {
    for (const side of ["raw", "torpor"] as const) {
      const server = product.sides[side]!;
      const base = wsBase(server);
      const rss = side === "torpor" ? () => server.call<number>("treeRss") : async () => rssOf(server.pid);
      const settle = async (sockets: number) => {
        if (side === "torpor") await waitHibernated(server, sockets, 180_000);
        else if ((await server.call<number>("connections")) !== sockets) throw new Error(`raw: not ${sockets} connections`);
        await new Promise((r) => setTimeout(r, IDLE_MS));
        return rss();
      };
      await spread(
        lgs,
        side,
        base,
        Array.from({ length: WARM }, (_, i) => `/ROOM/${side}-warm${i}?u=w${i}`),
      );
      const zero = await settle(WARM);
      const want = side === "raw" ? rawCount : SOCKETS;
      // Opened in batches, so a slow machine stops at the budget with what it holds instead of overrunning it.
      let held = 0;
      let openMs = 0;
      while (held < want && (side === "raw" || Date.now() < deadline)) {
        const n = Math.min(BATCH, want - held);
        const t0 = performance.now();
        await spread(
          lgs,
          side,
          base,
          Array.from({ length: n }, (_, j) => `/ROOM/${side}-u${held + j}?u=u${held + j}`),
        );
        openMs += performance.now() - t0;
        held += n;
      }
      const after = await settle(WARM + held);
      const sample = await echoSample(lgs, side, WARM + held);
      per[side] = { held, rate: held / (openMs / 1000), perSocket: (after - zero) / held, base: zero, rss: after, ...sample };
      notes.push(
        `- ${side === "raw" ? "raw ws, one process" : `torpor start --workers ${WORKERS}`}: ${held.toLocaleString("en-US")} sockets opened at ${fmt(held / (openMs / 1000))} conn/s; RSS ${fmt(zero / 2 ** 20)} MiB with ${WARM} warm-up sockets, ${fmt(after / 2 ** 20)} MiB with all (${IDLE_MS / 1000} s after ${side === "torpor" ? "every object hibernated" : "the last opened"}): ${fmt((after - zero) / held)} B per socket; ${sample.echoed}/${sample.sampled} sampled sockets echoed`,
      );
      await Promise.all(lgs.map((l) => l.call("close", { group: side })));
    }
  } finally {
    await Promise.all(lgs.map((l) => l.stop()));
    await product.stop();
  }
  const raw = per.raw!;
  const torpor = per.torpor!;
  rows.push(
    valueRow(
      `scale: sockets held by torpor start --workers ${WORKERS}, each to its own object, all hibernated (asked ${SOCKETS.toLocaleString("en-US")})`,
      torpor.held,
      "sockets",
      { min: SOCKETS },
    ),
  );
  rows.push(
    ratioRow(
      `scale: summed RSS per hibernated socket, torpor start --workers ${WORKERS} (baseline: raw ws, one process, ${raw.held.toLocaleString("en-US")} sockets)`,
      { raw: raw.perSocket, torpor: torpor.perSocket },
      "B",
      null,
    ),
  );
  rows.push(ratioRow("scale: open rate, each socket to a new object (baseline: raw ws)", { raw: raw.rate, torpor: torpor.rate }, "conn/s", null));
  rows.push(valueRow(`scale: sampled sockets that still echo (of ${torpor.sampled})`, torpor.echoed, "sockets", { min: torpor.sampled }));
  notes.push(`- machine: ${execSync("uptime").toString().trim()}`);
  return { rows, notes };
}

/** Opens `paths` spread over the load generators (each in group `group`). */
async function spread(lgs: Child[], group: string, base: string, paths: string[]): Promise<void> {
  const per = Math.ceil(paths.length / lgs.length);
  await Promise.all(lgs.map((lg, k) => lg.call("connect", { group, base, paths: paths.slice(k * per, (k + 1) * per) })));
}

/** One message on each of SAMPLE sockets picked over the load generators; how many came back within 10 s. */
async function echoSample(lgs: Child[], group: string, total: number): Promise<{ echoed: number; sampled: number }> {
  const each = Math.ceil(SAMPLE / lgs.length);
  const counts = await Promise.all(lgs.map((lg) => lg.call<number>("count")));
  let echoed = 0;
  let sampled = 0;
  await Promise.all(
    lgs.map(async (lg, k) => {
      const held = Math.min(counts[k]!, Math.ceil(total / lgs.length));
      for (let i = 0; i < each && held > 0; i++) {
        sampled++;
        const index = Math.floor((i * held) / each);
        const answered = await Promise.race([
          lg.call<number>("ping", { group, index }).then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
        ]);
        if (answered) echoed++;
      }
    }),
  );
  return { echoed, sampled };
}
