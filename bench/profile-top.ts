// `node --import tsx bench/profile-top.ts <file.cpuprofile> [fromUs toUs] [layer]`: the functions with the most
// self time in a CPU profile (optionally in a time window, optionally of one layer of bench/lib/cpuprofile.ts).
import { readFileSync } from "node:fs";
import { layerOf } from "./lib/cpuprofile.ts";

const [file, from = "0", to = "Infinity", only] = process.argv.slice(2);
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
const prof = JSON.parse(readFileSync(file!, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<string, number>();
let total = 0;
let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i]!;
  if (t < Number(from) || t > Number(to)) continue;
  let id: number | undefined = prof.samples[i]!;
  const leaf = byId.get(id)!.callFrame;
  if (leaf.functionName === "(idle)") continue;
  let layer: string | null = null;
  while (id !== undefined && layer === null) {
    layer = layerOf(byId.get(id)!.callFrame);
    id = parent.get(id);
  }
  total++;
  if (only !== undefined && layer !== only) continue;
  const key = `${leaf.functionName || "(anonymous)"} ${leaf.url.replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/)/, "")}:${leaf.lineNumber + 1} [${layer}]`;
  self.set(key, (self.get(key) ?? 0) + 1);
}
console.log(`${total} busy samples`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);

// BENCH_STACKS=<function name>: the commonest stacks (5 frames up) leading to that function.
const want = process.env.BENCH_STACKS;
if (want !== undefined) {
  const stacks = new Map<string, number>();
  let t2 = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t2 += prof.timeDeltas[i]!;
    if (t2 < Number(from) || t2 > Number(to)) continue;
    let id: number | undefined = prof.samples[i]!;
    const frames: string[] = [];
    let hit = false;
    while (id !== undefined && frames.length < 40) {
      const f = byId.get(id)!.callFrame;
      if (!hit && f.functionName === want) hit = true;
      if (hit) frames.push(`${f.functionName || "(anon)"}@${f.url.replace(/^.*\//, "")}:${f.lineNumber + 1}`);
      if (hit && frames.length >= Number(process.env.BENCH_DEPTH ?? 8)) break;
      id = parent.get(id);
    }
    if (!hit) continue;
    const key = frames.join(" < ");
    stacks.set(key, (stacks.get(key) ?? 0) + 1);
  }
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${v}  ${k}`);
}
