/**
 * One fault-schedule run against `torpor start --workers N`: start the
 * cluster on the subject project, run the workload and the nemesis for a
 * while, stop faulting, let every client finish (each operation is bounded by
 * its deadline), stop the cluster gracefully, read the data directory back
 * and check the history against it.
 *
 * @example
 * const result = await runSchedule({ seed: 1234, durationMs: 60_000 });
 * if (result.anomalies.length > 0) console.log(result.report);
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Anomaly, check } from "./checker.ts";
import { History } from "./history.ts";
import { Nemesis } from "./nemesis.ts";
import { Random } from "./random.ts";
import { readStoredState } from "./stored-state.ts";
import { writeSubjectProject } from "./subject-worker.ts";
import { TorporCluster } from "./torpor-cluster.ts";
import { type TorporFaultOptions, torporFaults } from "./torpor-faults.ts";
import { subjectModel, Workload, type WorkloadOptions } from "./workload.ts";

/**
 * The cluster's bounds in a schedule: tighter than the defaults so that a run fits the CI budget (a call waits at
 * most 20 s for its object's worker, a reload at most 5 s for a long event), below the clients' 30 s deadline, so a
 * call that outlives its deadline is a hang and not a wait the server allows.
 */
export const SCHEDULE_ARGS = ["--move-timeout-ms", "5000", "--route-timeout-ms", "20000"];

/** What to run. */
export interface ScheduleOptions {
  seed: number;
  /** How long faults are injected (the run takes longer: start, drain, stop, check). */
  durationMs: number;
  /** Worker processes (default 3). */
  workers?: number;
  /** Flags for `torpor start` (default SCHEDULE_ARGS). */
  args?: string[];
  /** Only these faults (by name); default all. */
  faults?: string[];
  /** Quiet time between faults (default 2–6 s). */
  gapMs?: [number, number];
  /**
   * Every kind of fault runs at least once if time allows (the first ones, in a seeded order): faults go on past
   * `durationMs` until they all ran, for at most this much longer (default 30 s). 0: a run of `durationMs`, faults
   * picked by weight from the start.
   */
  coverWithinMs?: number;
  workload?: Pick<WorkloadOptions, "httpClients" | "wsClients" | "objects" | "deadlineMs">;
  faultOptions?: Omit<TorporFaultOptions, "objects">;
  /** Where the history and the logs of a failed run are kept (default: a temporary directory, printed). */
  keepDir?: string;
  /** Progress lines (default: none). */
  onProgress?: (line: string) => void;
}

/** What a run found. */
export interface ScheduleResult {
  seed: number;
  anomalies: Anomaly[];
  summary: ReturnType<History["summary"]> & { faultsByName: Record<string, number> };
  /** A readable account: the seed, the counts, and the first anomalies. */
  report: string;
  /** Kept when the run found anomalies: history.jsonl, torpor.log and the data directory. */
  keptIn: string | null;
}

/** Runs one schedule; never throws for what it finds (anomalies are in the result), only for a harness failure. */
export async function runSchedule(options: ScheduleOptions): Promise<ScheduleResult> {
  const progress = options.onProgress ?? (() => {});
  const rng = new Random(options.seed);
  const history = new History();
  const dir = mkdtempSync(join(tmpdir(), "torpor-faults-"));
  const logFile = join(dir, "torpor.log");
  const objects = options.workload?.objects ?? 24;
  writeSubjectProject(dir, { version: "v0" });
  const cluster = new TorporCluster({ dir, workers: options.workers ?? 3, history, logFile, args: options.args ?? SCHEDULE_ARGS });
  const workload = new Workload({ history, rng: rng.fork(), targets: () => cluster.targets(), ...options.workload });
  // Stalls and long events of 5-10 s: past the schedule's 5 s move deadline, short enough that a run covers every fault.
  const all = torporFaults({ objects, longestStallMs: 10_000, ...options.faultOptions });
  const chosen = options.faults === undefined ? all : all.filter((f) => options.faults!.includes(f.name));
  const coverWithinMs = options.coverWithinMs ?? 30_000;
  const nemesis = new Nemesis(cluster, chosen, { rng: rng.fork(), history, gapMs: options.gapMs ?? [2_000, 6_000], coverEach: coverWithinMs > 0 });
  let anomalies: Anomaly[] = [];
  let failure: unknown = null;
  try {
    progress(`seed ${options.seed}: starting torpor start --workers ${options.workers ?? 3} in ${dir}`);
    await cluster.start();
    workload.start();
    nemesis.start();
    await pause(options.durationMs);
    if (coverWithinMs > 0) {
      progress("waiting for every kind of fault to have run once");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([nemesis.covered, new Promise((resolve) => (timer = setTimeout(resolve, coverWithinMs)))]);
      clearTimeout(timer);
    }
    progress("faults stop; draining clients");
    await nemesis.stop();
    if (cluster.supervisor === null) await cluster.start();
    await workload.stop();
    // Alarms set last are due up to 3 s later; the checker gives them a grace period on top.
    const lastDue = Math.max(0, ...history.operations.map((op) => subjectModel.alarmDue?.(op) ?? 0));
    await pause(Math.max(0, lastDue + 4_000 - history.now()));
    const end = history.now();
    progress("stopping the cluster and reading the data directory");
    await cluster.stop();
    cluster.killAll();
    anomalies = check(history, readStoredState(cluster.dataDir), subjectModel, { end });
  } catch (error) {
    failure = error;
  } finally {
    await cluster.stop(10_000);
    cluster.killAll();
  }
  const counts = history.summary();
  const faultsByName: Record<string, number> = {};
  for (const f of history.faults) faultsByName[f.name] = (faultsByName[f.name] ?? 0) + 1;
  const summary = { ...counts, faultsByName };
  let keptIn: string | null = null;
  if (anomalies.length > 0 || failure !== null) {
    keptIn = options.keepDir ?? dir;
    mkdirSync(keptIn, { recursive: true });
    history.save(join(keptIn, "history.jsonl"));
  } else rmSync(dir, { recursive: true, force: true });
  const notRun = chosen.map((f) => f.name).filter((name) => faultsByName[name] === undefined);
  const report = [
    `seed ${options.seed}: ${summary.operations} operations (${summary.ok} ok, ${summary.errors} errors, ${summary.timeouts} timeouts), ` +
      `${summary.sessions} WebSocket sessions (${summary.messages} messages), ${summary.faults} faults ${JSON.stringify(faultsByName)}`,
    failure !== null ? `harness failure: ${(failure as Error)?.stack ?? String(failure)}` : `${anomalies.length} anomalies`,
    `faults in order: ${history.faults.map((f) => `${f.name} ${f.end !== undefined ? `${((f.end - f.start) / 1000).toFixed(1)} s` : "(unfinished)"}`).join(", ")}`,
    ...(notRun.length > 0 ? [`not run (no time left): ${notRun.join(", ")}`] : []),
    ...summarize(anomalies),
    ...(keptIn !== null ? [`history, logs and data kept in ${keptIn}`] : []),
  ].join("\n");
  if (failure !== null) throw Object.assign(new Error(report), { cause: failure });
  return { seed: options.seed, anomalies, summary, report, keptIn };
}

/** The first few anomalies of each kind. */
function summarize(anomalies: Anomaly[]): string[] {
  const byKind = new Map<string, Anomaly[]>();
  for (const a of anomalies) byKind.set(a.kind, [...(byKind.get(a.kind) ?? []), a]);
  return [...byKind].flatMap(([kind, list]) => [`  ${kind}: ${list.length}`, ...list.slice(0, 3).map((a) => `    ${a.message}`)]);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
