// HTTP requests answered by objects (no socket): the Worker forwards `GET /visit/<name>` and
// `GET /stream/<name>` to the object with `stub.fetch`; the object reads one key and answers with a
// small body, given whole (`new Response("known")`) or streamed (a `ReadableStream` it feeds after
// returning, two chunks). 100 live objects, 50 requests in flight, rounds rotating the sides.
// Raw: plain node:http answering the same paths. With BENCH_BASE_ROOT, the same figures for a
// baseline checkout in the same run (the cost of per-response work such as the streamed-body gate).
import { QUICK, rotate, startProduct, type Side } from "./lib/product.ts";
import { startLoadgen, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, type Row } from "./lib/stats.ts";

const ROUNDS = QUICK ? 3 : 7;
const PER_ROUND = QUICK ? 1_000 : 2_000;
const OBJECTS = 100;

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const product = await startProduct("visits", "idle");
  const lg = await startLoadgen("loadgen-visits");
  try {
    const http = (side: Side) => `http://127.0.0.1:${product.sides[side]!.info.port as number}`;
    const paths = (kind: string, n: number) => Array.from({ length: n }, (_, i) => `/${kind}/o${i % OBJECTS}`);
    for (const kind of ["visit", "stream"]) {
      // Warm-up: every object live, each side's path compiled.
      for (const side of product.names) await lg.call("visit", { base: http(side), paths: paths(kind, 1_000) });
      const rates = await rotate(product.names, ROUNDS, async (side) => {
        const t0 = performance.now();
        await lg.call("visit", { base: http(side), paths: paths(kind, PER_ROUND) });
        return PER_ROUND / ((performance.now() - t0) / 1000);
      });
      const m = (s: Side) => (rates[s] === undefined ? undefined : median(rates[s]!));
      const what = kind === "visit" ? "body given whole" : "body streamed by the object";
      rows.push(ratioRow(`HTTP requests/s to ${OBJECTS} live objects, ${what}`, { raw: m("raw"), workerd: m("workerd"), torpor: m("torpor")! }, "req/s", null));
      notes.push(`- ${kind} (req/s per round): ${product.names.map((s) => `${s} ${rates[s]!.map((r) => fmt(r)).join(", ")}`).join("; ")}`);
      if (rates.base !== undefined) notes.push(`- ${kind}, torpor / base: ${fmt(m("torpor")! / m("base")!)}× req/s`);
    }
  } finally {
    await lg.stop();
    await product.stop();
  }
  return { rows, notes };
}
