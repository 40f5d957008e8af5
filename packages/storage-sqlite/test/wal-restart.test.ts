/**
 * At FULL, a checkpoint cycle leaves no fsync on the event loop's thread:
 * when SQLite writes the WAL again from its start it fsyncs the new header
 * first (at NORMAL, on the thread that commits), which stalled every object of
 * the process once per object per ~1,000 commits. The provider now empties the
 * WAL after the checkpoint's database fsync, syncs that truncation on libuv's
 * pool, and commits the first frames of the new WAL without the header sync
 * (wal-checkpoint.ts). Read from a real syscall trace (strace -f: each line
 * names its thread), with a power loss replayed after the commits to show
 * that every commit known durable survives across the cycles.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, test } from "vitest";
import { filesAfterPowerLoss, writeFiles } from "./strace/power-loss.ts";
import { parseSyscalls, readTrace, spawnTraced, straceAvailable, type TraceEvent } from "./strace/trace.ts";

const available = straceAvailable();
if (!available) process.stderr.write("wal-restart.test.ts: skipped (strace is not installed or ptrace is not allowed)\n");

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../..");
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const child = join(here, "fixtures/wal-cycle-child.ts");

/**
 * Runs the child until it exits: under strace with the usual full trace (writes with their bytes:
 * `full`), or tracing only fsync/fdatasync (fast). Returns its event loop's thread id and the syscalls.
 */
async function tracedCycles(dir: string, traceFile: string, cycles: number, perCommit: number, full: boolean) {
  const args = ["--conditions=@torpor/source", "--import", tsx, child, dir, String(cycles), String(perCommit)];
  const proc = full
    ? spawnTraced(process.execPath, args, { traceFile })
    : spawn("strace", ["-f", "--seccomp-bpf", "-qq", "-y", "-xx", "-e", "trace=fsync,fdatasync", "-o", traceFile, process.execPath, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      });
  let stderr = "";
  proc.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  let pid = 0;
  let done = false;
  for await (const line of createInterface({ input: proc.stdout! })) {
    const m = /^pid (\d+)$/.exec(line);
    if (m !== null) pid = Number(m[1]);
    if (line === "done") done = true;
  }
  const code = await exited;
  if (!done || pid === 0) throw new Error(`the traced child failed (exit ${code}): ${stderr}`);
  return { pid, text: readFileSync(traceFile, "utf8") };
}

/** The object's database file (not the alarm index), found under `root`. */
function objectFile(root: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".sqlite") && !e.name.startsWith("_")) found.push(join(d, e.name));
    }
  };
  walk(root);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe.skipIf(!available)("WAL checkpoint cycles at FULL", () => {
  test("once the WAL has been checkpointed, no fsync of the object's files runs on the event loop's thread", { timeout: 120_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), "torpor-wal-restart-"));
    try {
      const dir = join(work, "data");
      const { pid, text } = await tracedCycles(dir, join(work, "trace.txt"), 2.5, 10, false);
      const database = objectFile(dir);
      const syncs = parseSyscalls(text).filter((c) => (c.name === "fsync" || c.name === "fdatasync") && (c.path === database || c.path === `${database}-wal`));
      // Checkpoints happened, at least two: the database file was synced on the pool (where only a
      // checkpoint's copy has it synced; creating the database syncs it once on the loop's thread).
      const checkpoints = syncs.filter((c) => c.path === database && c.pid !== pid);
      expect(checkpoints.length).toBeGreaterThanOrEqual(2);
      const firstCheckpoint = syncs.indexOf(checkpoints[0]!);
      // From the first checkpoint on, every sync of the object's files ran on a pool thread (before
      // it, the new database and its first WAL header are synced on the loop's thread, once each).
      const onLoop = syncs.slice(firstCheckpoint).filter((c) => c.pid === pid);
      expect(onLoop.map((c) => `${c.name} ${c.path!.slice(database.length) || ".sqlite"} (trace line ${c.entry + 1})`)).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test("every commit known durable survives a power loss replayed after it, across WAL cycles", { timeout: 180_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), "torpor-wal-restart-"));
    try {
      const dir = join(work, "data");
      await tracedCycles(dir, join(work, "trace.txt"), 2.2, 25, true);
      const events = readTrace(join(work, "trace.txt"), dir);
      const database = objectFile(dir);
      const markers = events.filter((e): e is Extract<TraceEvent, { kind: "write" }> => e.kind === "write" && e.path === join(dir, "markers"));
      expect(markers.length).toBeGreaterThan(80);
      const problems: string[] = [];
      for (let i = 0; i < markers.length; i += 5) {
        const marker = i + 5 >= markers.length ? markers[markers.length - 1]! : markers[i]!;
        const rows = Number(/durable (\d+)/.exec(marker.data.toString())![1]);
        const into = mkdtempSync(join(tmpdir(), "torpor-power-loss-"));
        try {
          writeFiles(filesAfterPowerLoss(events, dir, marker.call.exit), dir, into);
          const db = new Database(join(into, database.slice(dir.length + 1)));
          try {
            const n = (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
            if (n < rows) problems.push(`power loss after "durable ${rows}": ${n} rows`);
          } finally {
            db.close();
          }
        } finally {
          rmSync(into, { recursive: true, force: true });
        }
      }
      expect(problems).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
