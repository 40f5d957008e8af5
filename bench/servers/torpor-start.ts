// The product as users run it: `torpor start` (the CLI, one process) on bench/project, SQLite
// storage as shipped. This wrapper (not under test) starts the CLI pinned to the server core and
// answers the driver's calls: RSS/CPU/fds from /proc, JS heap after a GC from the Worker's
// /__bench/stats route (the CLI runs with --expose-gc), object states from the admin endpoint.
// BENCH_MODE sets the Worker's MODE var; BENCH_HIBERNATE_MS the idle time before hibernation.
// BENCH_DEFAULTS=1: the CLI exactly as shipped (no Node flags, no --hibernate-after-ms; only where to
// listen and store, and the admin endpoint), for figures that must be taken at the defaults.
// BENCH_CLI=dist: the CLI from its build (packages/*/dist, as npm installs it: no module hooks in any
// process; lib/build.ts builds it), else from this checkout's sources (tsx and a resolve hook in every process).
// BENCH_WORKERS=N: `--workers N`.
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { commOf, cpuOf, fdsOf, rssOf, treeCpuOf, treeOf, treeRssOf } from "../lib/procfs.ts";
import { serve } from "../lib/proc.ts";
import { smapsOf } from "../lib/smaps.ts";
import { SERVER_CPU } from "../lib/sides.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
// BENCH_TORPOR_ROOT=<checkout>: run that checkout's CLI on this bench project (an A/B of two versions in one run, see product.ts).
const cliRoot = process.env.BENCH_TORPOR_ROOT ?? root;
const defaults = process.env.BENCH_DEFAULTS === "1";
const nodeFlags = defaults ? [] : ["--expose-gc", ...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean)];
// BENCH_PROFILE_DIR=<dir>: the CLI writes a CPU profile there when it exits (see bench/README.md);
// BENCH_PROFILE_INTERVAL: its sampling interval in µs (V8's default 1000).
if (process.env.BENCH_PROFILE_DIR) {
  nodeFlags.push("--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`);
  if (process.env.BENCH_PROFILE_INTERVAL) nodeFlags.push(`--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL}`);
}
const cliArgs = [
  "start",
  "--config",
  `${root}bench/project/wrangler.jsonc`,
  "--port",
  "0",
  "--persist-to",
  process.env.BENCH_DIR!,
  "--var",
  `MODE:${process.env.BENCH_MODE ?? "echo"}`,
  ...(defaults ? [] : ["--hibernate-after-ms", process.env.BENCH_HIBERNATE_MS ?? "600000"]),
  ...(process.env.BENCH_WORKERS ? ["--workers", process.env.BENCH_WORKERS] : []),
  "--admin-port",
  "0",
  "--log-level",
  "info",
  ...(process.env.BENCH_WORKERS ? ["--workers", process.env.BENCH_WORKERS] : []),
];
const bin = process.env.BENCH_CLI === "dist" ? "bench/servers/torpor-dist.mjs" : "packages/cli/bin/torpor.js";
// BENCH_PIN=0: every core (this wrapper is pinned to the client core, and children inherit that), so
// the CLI's default worker count is the machine's cores.
const pin = `taskset -c ${process.env.BENCH_PIN === "0" ? `0-${cpus().length - 1}` : SERVER_CPU} `;
const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pin}"${process.execPath}" ${nodeFlags.join(" ")} ${bin} ${cliArgs.map((a) => `'${a}'`).join(" ")}`;
const child = spawn("sh", ["-c", cmd], { cwd: cliRoot, stdio: ["ignore", "pipe", "inherit"] });
process.on("exit", () => child.kill("SIGKILL"));
process.on("SIGTERM", () => {
  child.kill("SIGTERM");
  child.once("exit", () => process.exit(0));
});

/** The idle collector's lines (its collections and its later native releases, every process of the tree), as logged: when, which process, what it freed. */
const idleCollections: Array<Record<string, unknown> & { at: number }> = [];

const urls = await new Promise<{ url: string; admin: string }>((resolve, reject) => {
  let url = "";
  let admin = "";
  const lines = createInterface({ input: child.stdout! });
  const startMs = Number(process.env.BENCH_START_TIMEOUT_MS ?? 120_000);
  const timer = setTimeout(() => reject(new Error(`torpor start did not report its URLs within ${startMs / 1000} s`)), startMs);
  child.once("exit", (code) => reject(new Error(`torpor start exited (${code})`)));
  lines.on("line", (line) => {
    let entry: { message?: string; url?: string; level?: string; time?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      process.stderr.write(`torpor: ${line}\n`);
      return;
    }
    if (entry.level === "error" || entry.level === "warn") process.stderr.write(`torpor: ${line}\n`);
    if (entry.message?.startsWith("Idle: ") === true) idleCollections.push({ ...entry, at: Date.parse(entry.time!) });
    if (entry.message === "Listening") url = entry.url!;
    if (entry.message === "Admin listening") admin = entry.url!;
    if (url && admin) {
      clearTimeout(timer);
      resolve({ url, admin });
    }
  });
});
const pid = child.pid!; // `exec` keeps the shell's pid for node

/** GET on the CLI (undici's fetch hides the reason of a failure in `cause`). */
async function get<T>(url: string): Promise<T> {
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    throw cause === undefined
      ? error
      : new Error(`${url}: ${cause.message} (torpor start ${child.exitCode === null ? "running" : `exited ${child.exitCode}`})`);
  }
}

const objects = () => get<Array<{ state: string; sockets: number }>>(`${urls.admin}/objects`);

serve(
  {
    stats: async () => {
      const heap = await get<{ heapUsed: number; heapTotal: number; external: number }>(`${urls.url}/__bench/stats`);
      return { ...heap, rss: rssOf(pid), fds: fdsOf(pid), cpuUs: cpuOf(pid) };
    },
    cpu: () => cpuOf(pid),
    /** The supervisor and its workers (cluster mode, the default): what an operator's monitoring sums. */
    treeRss: () => treeRssOf(pid),
    treeCpu: () => treeCpuOf(pid),
    processes: () => treeOf(pid).map((p) => ({ pid: p, rss: rssOf(p), comm: commOf(p) })),
    fds: () => fdsOf(pid),
    /** Where each process's RSS is (smaps), supervisor first. */
    smaps: () => treeOf(pid).map((p) => ({ pid: p, ...smapsOf(p) })),
    /** The idle collections logged since `since` (ms since the epoch). */
    idleLog: ({ since }: { since: number }) => idleCollections.filter((c) => c.at >= since),
    /** Idle collections (idle-collector.ts) over every process, and their time (from the admin /metrics). */
    idleGc: async () => {
      const res = await fetch(`${urls.admin}/metrics`);
      const text = await res.text();
      const sum = (name: string) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
      return { collections: sum("torpor_idle_gc_total"), seconds: sum("torpor_idle_gc_seconds_total") };
    },
    summary: async () => {
      const all = await objects();
      return { objects: all.length, live: all.filter((o) => o.state === "live").length, sockets: all.reduce((n, o) => n + o.sockets, 0) };
    },
  },
  { port: Number(new URL(urls.url).port), pid },
);
