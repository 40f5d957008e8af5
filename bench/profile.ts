// `pnpm bench:profile`-style helper: node … bench/profile.ts <mode> [puts] [sync] [seconds]
// Runs the Torpor server of one figure under --cpu-prof with the same load as the bench,
// then prints the functions with the most self time. Profiles land in bench/.out/.
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { start } from "./lib/proc.ts";
import { scratchDir, startLoadgen, SERVER_CPU, wsBase } from "./lib/sides.ts";

const [mode = "echo", puts = "1", sync = "NORMAL", seconds = "5"] = process.argv.slice(2);
const side = process.env.SIDE ?? "torpor";
const out = fileURLToPath(new URL("./.out/", import.meta.url));
mkdirSync(out, { recursive: true });
const scratch = scratchDir("profile");
const server = await start(`${side}-profile`, `servers/${side}.ts`, {
  cpu: SERVER_CPU,
  nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${out}`],
  env: { BENCH_MODE: mode, BENCH_PUTS: puts, BENCH_SYNC: sync, BENCH_DIR: scratch.dir },
});
const lg = await startLoadgen();
const conns = mode === "durable" ? 100 : 1000;
const roomSize = mode === "broadcast" ? 100 : 1;
await lg.call("connect", { group: "g", base: wsBase(server), paths: Array.from({ length: conns }, (_, i) => `/ROOM/p${Math.floor(i / roomSize)}?u=u${i}`) });
const deadline = Date.now() + Number(seconds) * 1000;
const cpu0 = await server.call<number>("cpu");
let events = 0;
if (mode === "broadcast") {
  events = (await lg.call<{ deliveries: number }>("broadcast", { group: "g", roomSize, window: 4, warmupMs: 0, durationMs: Number(seconds) * 1000 }))
    .deliveries;
} else {
  while (Date.now() < deadline) events += (await lg.call<{ roundTrips: number }>("echo", { group: "g", messages: 20 })).roundTrips;
}
const cpuPerEvent = ((await server.call<number>("cpu")) - cpu0) / events;
const t = Date.now();
await server.call("exit").catch(() => {});
await new Promise((r) => setTimeout(r, 1000));
await lg.stop();
scratch.cleanup();

// Main thread only (thread 0; tsx's loader thread writes one too).
const newest = readdirSync(out)
  .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
  .map((f) => out + f)
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number };
const prof = JSON.parse(readFileSync(newest, "utf8")) as { nodes: Node[]; samples: number[] };
const self = new Map<string, number>();
let total = 0;
for (const n of prof.nodes) {
  const f = n.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/|bench\/)/, "")}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n.hitCount);
  total += n.hitCount;
}
console.log(`${side} ${mode}: ${events} ${mode === "broadcast" ? "deliveries" : "events"}, ${cpuPerEvent.toFixed(2)} µs server CPU each (under the profiler)`);
console.log(`${newest} (${total} samples, written ${Date.now() - t} ms after load)`);
const top = [...self].filter(([k]) => !k.startsWith("(idle)"));
for (const [k, v] of top.sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
process.exit(0);
