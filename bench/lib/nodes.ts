// Nodes of several machines for `pnpm bench multinode`: `torpor start --cluster` on bench/project, pinned to the
// server core, each with its own data directory, on one PostgreSQL.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { treeOf } from "./procfs.ts";
import { SERVER_CPU } from "./sides.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

export interface BenchNode {
  readonly url: string;
  readonly nodeId: string;
  readonly child: ChildProcess;
  /** The supervisor and every process below it (its workers). */
  pids(): number[];
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** Starts a node; `mode` is the Worker's MODE var (echo, sql…); `cliRoot`: the checkout whose CLI runs (default this one). */
export async function startBenchNode(dir: string, name: string, url: string, mode: string, extra: string[] = [], cliRoot = root): Promise<BenchNode> {
  // BENCH_NODE_FLAGS: Node flags for the node's processes (its workers inherit them), e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const args = [
    ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter((f) => f !== "") ?? []),
    join(cliRoot, "packages/cli/bin/torpor.js"),
    "start",
    "--config",
    join(root, "bench/project/wrangler.jsonc"),
    "--workers",
    "1",
    "--port",
    "0",
    "--persist-to",
    join(dir, name),
    "--cluster",
    url,
    "--var",
    `MODE:${mode}`,
    "--hibernate-after-ms",
    "600000",
    "--log-level",
    "info",
    ...extra,
  ];
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${hasTaskset ? `taskset -c ${SERVER_CPU} ` : ""}"${process.execPath}" ${quoted}`;
  const child = spawn("sh", ["-c", cmd], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  const listening = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} did not listen within 120 s`)), 120_000);
    child.once("exit", (code) => reject(new Error(`node ${name} exited (${code})`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as Record<string, string>;
      if (entry.level === "error" || entry.level === "warn") process.stderr.write(`node ${name}: ${line}\n`);
      if (entry.message === "Listening") {
        clearTimeout(timer);
        resolve(entry);
      }
    });
  });
  const node: BenchNode = {
    url: listening.url!,
    nodeId: listening.node!,
    child,
    pids: () => treeOf(child.pid!),
    kill(signal) {
      for (const pid of node.pids()) {
        try {
          process.kill(pid, signal);
        } catch {
          // Gone already.
        }
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => node.kill("SIGKILL"), 10_000);
      await new Promise((r) => child.once("exit", r));
      clearTimeout(t);
    },
  };
  return node;
}
