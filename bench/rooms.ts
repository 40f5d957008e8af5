// Idle memory in rooms: 10k connections in 100 rooms and 18k in 180 rooms (100 per room), every
// object hibernated, as bytes of server RSS per connection over a warmed-up base. Sides one after
// another (memory is per process; nothing here is timed). Clients are spread over 4 load-generator
// processes, each from its own loopback address (a process may hold at most 20,000 fds here).
import type { Child } from "./lib/proc.ts";
import { QUICK, startProduct, waitHibernated, type Side } from "./lib/product.ts";
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, ratioRow, type Row } from "./lib/stats.ts";

const PER_ROOM = 100;
const STEPS = QUICK ? [2_000, 4_000] : [10_000, 18_000];
const WARM = 200;
const LOADGENS = 4;

export type Stats = { rss: number; heapUsed: number; heapTotal: number; fds: number };

/** Opens `paths` spread over the load generators. */
export async function connectSpread(lgs: Child[], group: string, base: string, paths: string[]): Promise<void> {
  const per = Math.ceil(paths.length / lgs.length);
  await Promise.all(lgs.map((lg, k) => lg.call("connect", { group, base, paths: paths.slice(k * per, (k + 1) * per) })));
}

export function startLoadgens(n = LOADGENS): Promise<Child[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startLoadgen(`loadgen-${i}`, `127.0.0.${i + 2}`)));
}

/** Server stats once idle: torpor after every object hibernated; the others after a settle. */
export async function idleStats(side: Side, server: Child, sockets: number): Promise<Stats> {
  if (side === "torpor") await waitHibernated(server, sockets);
  else if (side === "raw") {
    const n = await server.call<number>("connections");
    if (n !== sockets) throw new Error(`raw: ${n} connections (expected ${sockets})`);
  } else await new Promise((r) => setTimeout(r, 1_000));
  return server.call<Stats>("stats");
}

export async function run(): Promise<PartResult> {
  // 1 MiB semi-spaces on the Node servers: V8 otherwise grows the young generation in steps of
  // several MiB during connect bursts and keeps it, which is noise, not per-connection cost.
  const product = await startProduct("rooms", "idle", { hibernateMs: 500, nodeFlags: ["--max-semi-space-size=1"] });
  const lgs = await startLoadgens();
  const per: Partial<Record<Side, number[]>> = {};
  const notes: string[] = [];
  try {
    for (const side of product.names) {
      const server = product.sides[side]!;
      const base = wsBase(server);
      const path = (i: number) => `/ROOM/room${Math.floor(i / PER_ROOM)}?u=user${i}`;
      await connectSpread(
        lgs,
        side,
        base,
        Array.from({ length: WARM }, (_, i) => `/ROOM/warm${Math.floor(i / PER_ROOM)}?u=w${i}`),
      );
      const zero = await idleStats(side, server, WARM);
      let held = 0;
      per[side] = [];
      const line: string[] = [`base RSS ${fmt(zero.rss / 2 ** 20)} MiB`];
      for (const n of STEPS) {
        await connectSpread(
          lgs,
          side,
          base,
          Array.from({ length: n - held }, (_, j) => path(held + j)),
        );
        held = n;
        const s = await idleStats(side, server, WARM + n);
        per[side]!.push((s.rss - zero.rss) / n);
        line.push(
          `${n} conns in ${n / PER_ROOM} rooms: RSS ${fmt(s.rss / 2 ** 20)} MiB (${fmt((s.rss - zero.rss) / n)} B/conn)` +
            (Number.isFinite(s.heapUsed)
              ? `, heap ${fmt((s.heapUsed - zero.heapUsed) / n)} B/conn used, ${fmt((s.heapTotal - zero.heapTotal) / n)} committed`
              : ""),
        );
      }
      notes.push(`- rooms ${side}: ${line.join("; ")}`);
      await Promise.all(lgs.map((lg) => lg.call("close", { group: side })));
    }
    const rows: Row[] = STEPS.map((n, i) =>
      ratioRow(
        `bytes per idle conn, ${n.toLocaleString("en-US")} conns in ${n / PER_ROOM} rooms (RSS)`,
        { raw: per.raw?.[i], workerd: per.workerd?.[i], torpor: per.torpor![i]! },
        "B",
        { max: 1.3 },
      ),
    );
    return { rows, notes };
  } finally {
    await Promise.all(lgs.map((lg) => lg.stop()));
    await product.stop();
  }
}
