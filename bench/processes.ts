// Per-process memory of an idle cluster (issue 23 item 4): `torpor start --workers 2` and `--workers 8`,
// at the defaults (no Node flags, no tuning flags), before the first connection, RSS of the supervisor
// and of each worker read IDLE_MS after the server said it listens. Two boots of the same code in the
// same run: the CLI from its build (as npm installs it: no module hooks in any process, the Worker
// bundled once by the supervisor) and the CLI from this checkout's sources (tsx and a resolve hook
// registered in every process: how every process booted before, built or not). Beside them, a plain
// `ws` server process, idle, no Node flags. Figures in MB (10^6 bytes), as the targets are.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startProduct } from "./lib/product.ts";
import { rssOf } from "./lib/procfs.ts";
import type { PartResult } from "./lib/sides.ts";
import { fmt, ratioRow, valueRow, type Row } from "./lib/stats.ts";

/** How long each server idles before its RSS is read (the idle collector's start-up collection and young-generation retry fit in it). */
const IDLE_MS = 30_000;
const MB = 1e6;

interface Boot {
  supervisor: number;
  workers: number[];
}

/** RSS of a `ws` server in a plain `node` (no tsx, no flags: bench/servers/raw.ts runs under tsx), idle IDLE_MS after it listens. */
async function plainWsRss(): Promise<number> {
  const code = `import { WebSocketServer } from "ws"; new WebSocketServer({ port: 0, host: "127.0.0.1" }).on("listening", () => console.log("listening"));`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    cwd: fileURLToPath(new URL("../packages/core/", import.meta.url)),
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", () => resolve());
      child.once("exit", (c) => reject(new Error(`plain ws server exited (${c})`)));
    });
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return rssOf(child.pid!);
  } finally {
    child.kill();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function run(): Promise<PartResult> {
  // Nine processes from sources (each transpiling the CLI through tsx) start slowly on a loaded machine.
  process.env.BENCH_START_TIMEOUT_MS ??= "600000";
  const rows: Row[] = [];
  const notes: string[] = [];
  const boots = new Map<string, Boot>();
  let raw = Number.NaN;
  for (const workers of [2, 8]) {
    for (const cli of ["dist", "source"] as const) {
      const first = Number.isNaN(raw);
      const product = await startProduct(`processes-${workers}-${cli}`, "idle", { workerd: false, raw: false, defaults: true, pinned: false, cli, workers });
      try {
        await new Promise((r) => setTimeout(r, IDLE_MS));
        const torpor = product.sides.torpor!;
        // Node processes only: tsx (from sources) runs an esbuild service beside each.
        const list = (await torpor.call<Array<{ pid: number; rss: number; comm: string }>>("processes")).filter((p) => p.comm === "node");
        const [supervisor, ...rest] = list;
        boots.set(`${workers}-${cli}`, { supervisor: supervisor!.rss, workers: rest.map((p) => p.rss) });
        if (first) raw = await plainWsRss();
        notes.push(
          `- --workers ${workers}, CLI from ${cli === "dist" ? "its build (no module hooks)" : "sources (tsx + resolve hook in every process)"}: supervisor ${fmt(supervisor!.rss / MB)} MB, workers ${rest.map((p) => fmt(p.rss / MB)).join(" / ")} MB`,
        );
        console.error(`[bench] processes: ${notes.at(-1)}`);
      } finally {
        await product.stop();
      }
    }
  }
  notes.push(`- plain ws server, idle: ${fmt(raw / MB)} MB`);
  for (const workers of [2, 8]) {
    const after = boots.get(`${workers}-dist`)!;
    const before = boots.get(`${workers}-source`)!;
    rows.push(
      valueRow(`RSS per idle worker, --workers ${workers} (mean), CLI as built`, mean(after.workers) / MB, "MB", { max: 70 }),
      valueRow(`RSS of the idle supervisor, --workers ${workers}, CLI as built`, after.supervisor / MB, "MB", { max: 60 }),
      ratioRow(
        `RSS per idle worker, --workers ${workers}: as built (torpor) vs with module hooks (raw column)`,
        { raw: mean(before.workers) / MB, torpor: mean(after.workers) / MB },
        "MB",
        null,
      ),
      ratioRow(
        `RSS of the idle supervisor, --workers ${workers}: as built vs with module hooks`,
        { raw: before.supervisor / MB, torpor: after.supervisor / MB },
        "MB",
        null,
      ),
    );
  }
  rows.push(
    ratioRow(
      `RSS per idle worker, --workers 8, as built, vs a plain ws process`,
      { raw: raw / MB, torpor: mean(boots.get("8-dist")!.workers) / MB },
      "MB",
      null,
    ),
  );
  return { rows, notes };
}
