// Broadcast: 10 rooms × 100 clients, each message fanned out to the room; once to every member
// ("broadcast" mode) and once to every member but the sender, recognized by reading each peer's
// attachment ("exclude" mode: deserializeAttachment per peer per message). Server CPU per delivery.
import { QUICK, rotate, startProduct, type Side } from "./lib/product.ts";
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, type Row } from "./lib/stats.ts";

const ROOMS = 10;
const ROOM_SIZE = 100;
const WINDOW = 4;
const WARMUP_MS = 500;
const DURATION_MS = QUICK ? 1_500 : 3_000;
const ROUNDS = QUICK ? 1 : 3;

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const mode of ["broadcast", "exclude"] as const) {
    const product = await startProduct(`broadcast-${mode}`, mode);
    const lg = await startLoadgen();
    try {
      const paths = Array.from({ length: ROOMS * ROOM_SIZE }, (_, i) => `/ROOM/b${Math.floor(i / ROOM_SIZE)}?u=u${i}`);
      for (const side of product.names) await lg.call("connect", { group: side, base: wsBase(product.sides[side]!), paths });
      const results = await rotate(product.names, ROUNDS, async (side) => {
        const server = product.sides[side]!;
        const cpu0 = await server.call<number>("cpu");
        const r = await lg.call<{ deliveries: number; elapsedMs: number; latency: { p50: number; p99: number } }>("broadcast", {
          group: side,
          roomSize: ROOM_SIZE,
          window: WINDOW,
          warmupMs: WARMUP_MS,
          durationMs: DURATION_MS,
          exclude: mode === "exclude",
        });
        const cpu1 = await server.call<number>("cpu");
        // CPU covers warm-up + window + drain; deliveries only the window: scale by time.
        const dps = r.deliveries / (r.elapsedMs / 1000);
        return { dps, p50: r.latency.p50, p99: r.latency.p99, cpu: (cpu1 - cpu0) / ((dps * (WARMUP_MS + r.elapsedMs)) / 1000) };
      });
      const m = (s: Side, k: "dps" | "cpu" | "p50" | "p99") => (results[s] === undefined ? undefined : median(results[s]!.map((x) => x[k])));
      const label = mode === "exclude" ? "broadcast, sender excluded via attachment" : "broadcast to the whole room";
      rows.push(
        ratioRow(
          `${label}: server CPU per delivery (10 rooms × 100)`,
          { raw: m("raw", "cpu"), workerd: m("workerd", "cpu"), torpor: m("torpor", "cpu")! },
          "µs",
          { max: 1.15 },
        ),
      );
      rows.push(ratioRow(`${label}: latency p99`, { raw: m("raw", "p99"), workerd: m("workerd", "p99"), torpor: m("torpor", "p99")! }, "ms", null));
      for (const s of product.names) {
        notes.push(
          `- ${label}, ${s}: ` +
            results[s]!.map((x) => `${fmt(x.dps)} deliveries/s, p50 ${fmt(x.p50)} ms, p99 ${fmt(x.p99)} ms, ~${fmt(x.cpu)} µs CPU/delivery`).join("; "),
        );
      }
    } finally {
      await lg.stop();
      await product.stop();
    }
  }
  return { rows, notes };
}
