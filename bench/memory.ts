// Idle memory: server RSS per connection whose object is hibernated (Torpor, chat-style rooms)
// vs a raw ws server holding the same connections (same rooms, same per-user data).
// 1k, 5k, 10k, 18k connections in 100 rooms; the clients are split over several load-generator
// processes (a process may hold at most 20,000 file descriptors here), each from its own
// loopback source address so that ephemeral ports do not run out.
import { interleave, startLoadgen, startSides, wsBase, type PartResult } from "./lib/sides.ts";
import type { Child } from "./lib/proc.ts";
import { fmt, ratioRow, slope } from "./lib/stats.ts";

const STEPS = [1_000, 5_000, 10_000, 18_000];
const ROOMS = 100;
const LOADGENS = 4;

type Stats = { rss: number; heapUsed: number; heapTotal: number; external: number };

export async function run(): Promise<PartResult> {
  // A fixed young generation (1 MiB semi-spaces) on both sides: otherwise V8 grows it in steps of
  // several MiB during the connection bursts and never gives it back, which is noise, not per-connection cost.
  const sides = await startSides("memory", { BENCH_MODE: "idle" }, ["--max-semi-space-size=1"]);
  const lgs: Child[] = await Promise.all(Array.from({ length: LOADGENS }, (_, i) => startLoadgen(`loadgen-${i}`, `127.0.0.${i + 2}`)));
  const held = { raw: 0, torpor: 0 };
  const path = (i: number) => `/ROOM/room${i % ROOMS}?u=user${i}`;
  const grow = async (side: "raw" | "torpor", to: number) => {
    const from = held[side];
    const per = Math.ceil((to - from) / LOADGENS);
    await Promise.all(
      lgs.map((lg, k) => {
        const lo = from + k * per;
        const hi = Math.min(to, lo + per);
        const paths = Array.from({ length: Math.max(0, hi - lo) }, (_, j) => path(lo + j));
        return lg.call("connect", { group: side, base: wsBase(sides[side]), paths });
      }),
    );
    held[side] = to;
  };
  const measure = async (side: "raw" | "torpor"): Promise<Stats> => {
    if (side === "torpor") {
      await sides.torpor.call("hibernateAll");
      const s = await sides.torpor.call<{ live: number; sockets: number }>("summary");
      if (s.live !== 0 || s.sockets !== held.torpor) throw new Error(`Torpor: ${s.live} objects still live, ${s.sockets} sockets (expected ${held.torpor})`);
    } else {
      const n = await sides.raw.call<number>("connections");
      if (n !== held.raw) throw new Error(`raw: ${n} connections (expected ${held.raw})`);
    }
    return sides[side].call<Stats>("stats");
  };
  try {
    // Zero point: one connection per room (rooms exist, code paths warmed), all hibernated.
    const base = await interleave(1, async (side) => {
      await grow(side, ROOMS);
      return measure(side);
    });
    const points: Record<"raw" | "torpor", Array<{ n: number } & Stats>> = { raw: [], torpor: [] };
    for (const [i, n] of STEPS.entries()) {
      const order: Array<"raw" | "torpor"> = i % 2 === 0 ? ["raw", "torpor"] : ["torpor", "raw"];
      for (const side of order) {
        await grow(side, n);
        points[side].push({ n, ...(await measure(side)) });
      }
    }
    const perConn = (side: "raw" | "torpor", p: { n: number; rss: number }) => (p.rss - base[side][0]!.rss) / (p.n - ROOMS);
    const slopeOf = (side: "raw" | "torpor", k: keyof Stats = "rss") =>
      slope(points[side].map((p) => p.n), points[side].map((p) => p[k]));
    const at = (n: number) => STEPS.indexOf(n);
    const rows = [
      ratioRow("idle memory per hibernated connection, slope 1k–18k (RSS)", slopeOf("torpor"), slopeOf("raw"), "B", { max: 1.3 }),
      ratioRow("idle memory per connection at 10k (RSS delta / conns)", perConn("torpor", points.torpor[at(10_000)]!), perConn("raw", points.raw[at(10_000)]!), "B", { max: 1.3 }),
      ratioRow("idle memory per connection at 18k (RSS delta / conns)", perConn("torpor", points.torpor[at(18_000)]!), perConn("raw", points.raw[at(18_000)]!), "B", { max: 1.3 }),
      ratioRow("idle JS heap (used) per hibernated connection, slope", slopeOf("torpor", "heapUsed"), slopeOf("raw", "heapUsed"), "B", null),
      ratioRow("idle JS heap (committed) per hibernated connection, slope", slopeOf("torpor", "heapTotal"), slopeOf("raw", "heapTotal"), "B", null),
    ];
    const notes = (["raw", "torpor"] as const).map(
      (s) =>
        `- memory ${s}: base (100 conns) RSS ${fmt(base[s][0]!.rss / 2 ** 20)} MiB; ` +
        points[s].map((p) => `${p.n}: RSS ${fmt(p.rss / 2 ** 20)} MiB (${fmt(perConn(s, p))} B/conn), heap ${fmt(p.heapUsed / 2 ** 20)}/${fmt(p.heapTotal / 2 ** 20)} MiB used/committed, external ${fmt(p.external / 2 ** 20)} MiB`).join("; "),
    );
    return { rows, notes };
  } finally {
    await Promise.all(lgs.map((lg) => lg.stop()));
    await sides.stop();
  }
}
