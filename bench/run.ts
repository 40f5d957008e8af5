// `pnpm bench [part…] [--quick] [--write]`: runs the figures, prints one table, and (for a full run,
// or with --write) writes bench/RESULTS.md. --quick: smaller counts, one round, no workerd.
import { execSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus } from "node:os";
import type { PartResult } from "./lib/sides.ts";
import { renderTable } from "./lib/stats.ts";

const PARTS: Record<string, () => Promise<{ run(): Promise<PartResult> }>> = {
  rooms: () => import("./rooms.ts"),
  objects: () => import("./objects.ts"),
  memory: () => import("./memory.ts"),
  processes: () => import("./processes.ts"),
  echo: () => import("./echo.ts"),
  events: () => import("./events.ts"),
  broadcast: () => import("./broadcast.ts"),
  durable: () => import("./durable.ts"),
  visits: () => import("./visits.ts"),
  wake: () => import("./wake.ts"),
  cluster: () => import("./cluster.ts"),
  multinode: () => import("./multinode.ts"),
  scale: () => import("./scale.ts"),
};
/** Parts run only when asked by name (long, or sized for a machine of their own). */
const OPTIONAL = new Set(["scale"]);

const args = process.argv.slice(2);
const quick = args.includes("--quick");
// Read by lib/product.ts when the parts are imported, and inherited by every child process.
if (quick) process.env.BENCH_QUICK = "1";
const asked = args.filter((a) => !a.startsWith("--"));
for (const a of asked) {
  if (!(a in PARTS)) {
    console.error(`Unknown part "${a}". Parts: ${Object.keys(PARTS).join(", ")}.`);
    process.exit(2);
  }
}
const names = asked.length > 0 ? asked : Object.keys(PARTS).filter((name) => !OPTIONAL.has(name));
const write = (asked.length === 0 && !quick) || args.includes("--write");

const t0 = Date.now();
const rows: PartResult["rows"] = [];
const notes: string[] = [];
for (const name of names) {
  const t = Date.now();
  console.error(`[bench] ${name}…`);
  const result = await (await PARTS[name]!()).run();
  rows.push(...result.rows);
  notes.push(`### ${name} (${((Date.now() - t) / 1000).toFixed(0)} s)`, ...result.notes, "");
  console.error(`[bench] ${name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  // Each part's figures as soon as it ends: a long run that is interrupted keeps what it measured.
  console.error([renderTable(result.rows), ...result.notes, ""].join("\n"));
}
for (const n of notes) console.error(n);
const table = renderTable(rows);
console.log(table);
const secs = ((Date.now() - t0) / 1000).toFixed(0);
console.log(`\n${names.join(", ")} in ${secs} s`);

if (write) {
  const file = new URL("./RESULTS.md", import.meta.url);
  const sh = (c: string) => {
    try {
      return execSync(c, { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
    } catch {
      return "?";
    }
  };
  const block = [
    "<!-- results:start (written by `pnpm bench`; edit outside these markers) -->",
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? "?"} · ${sh("uname -sr")} · commit ${sh("git rev-parse --short HEAD")} · parts: ${names.join(", ")}${quick ? " (quick)" : ""} · ${secs} s`,
    "",
    table,
    "",
    "Per-round figures:",
    "",
    ...notes,
    "<!-- results:end -->",
  ].join("\n");
  const old = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n\n<!-- results:start --><!-- results:end -->\n";
  const re = /<!-- results:start[\s\S]*?<!-- results:end -->/;
  writeFileSync(file, re.test(old) ? old.replace(re, () => block) : `${old}\n${block}\n`);
  console.log(`wrote bench/RESULTS.md`);
}
process.exit(0);
