/**
 * The system under test: `torpor start --workers N` on the subject project,
 * run as an operator runs it. It can be SIGKILLed and started again on the
 * same port and data directory (as systemd's `Restart=always` does), reloaded
 * with SIGHUP, and have its workers killed. While a new instance starts, it
 * watches for the moment the new supervisor names itself as the data
 * directory's holder (`<data>/torpor.pid`) and records any process of an
 * older instance still running then (`orphan-alive`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { History } from "./history.ts";
import { childrenOf, hasEnv, isAlive, killIfAlive, processId, type ProcessId } from "./processes.ts";

/** This checkout's CLI, or another build's (`FAULT_TORPOR_BIN`: to show what a schedule finds on older code). */
const BIN = process.env.FAULT_TORPOR_BIN || fileURLToPath(new URL("../../../packages/cli/bin/torpor.js", import.meta.url));

/** How to run the cluster. */
export interface TorporClusterOptions {
  /** The project directory (subject-worker.ts wrote it); data goes to `<dir>/data`. */
  dir: string;
  workers: number;
  history: History;
  /** More flags for `torpor start`. */
  args?: string[];
  /** Every output line of every instance is appended here. */
  logFile?: string;
  /** How long an instance may take to listen (default 60 s). */
  startTimeoutMs?: number;
}

/** One `torpor start` process. */
interface Instance {
  child: ChildProcess;
  id: ProcessId;
  exited: Promise<number | null>;
  lines: Array<(line: Record<string, unknown>) => void>;
}

/** A cluster under test. */
export class TorporCluster {
  readonly options: TorporClusterOptions;
  /** The base URL while an instance listens; null while down. */
  url: string | null = null;
  #port = 0;
  #instance: Instance | null = null;
  /** Every process of every instance seen (workers are recorded when listed), to clean up at the end. */
  readonly #seen: ProcessId[] = [];
  #reloads = 0;

  constructor(options: TorporClusterOptions) {
    this.options = options;
  }

  get dataDir(): string {
    return join(this.options.dir, "data");
  }

  /** Where clients can send now. */
  targets(): string[] {
    return this.url === null ? [] : [this.url];
  }

  /** The supervisor now, or null. */
  get supervisor(): ProcessId | null {
    return this.#instance?.id ?? null;
  }

  /** Starts an instance (on the port of the previous one, as a restarted service would) and waits until it listens. */
  async start(): Promise<void> {
    const { history } = this.options;
    const older = this.#seen.filter(isAlive);
    const child = spawn(
      process.execPath,
      [BIN, "start", "--workers", String(this.options.workers), "--port", String(this.#port), "--persist-to", this.dataDir, ...(this.options.args ?? [])],
      { cwd: this.options.dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    const id = processId(child.pid!) ?? { pid: child.pid!, start: -1 };
    this.#seen.push(id);
    const instance: Instance = { child, id, exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))), lines: [] };
    this.#instance = instance;
    this.#capture(instance);
    history.note(`start supervisor ${id.pid} (older processes alive: ${older.map((p) => p.pid).join(",") || "none"})`);

    // The moment the new instance holds the data directory: nothing of an older one may run any more.
    let lockSeen = false;
    const watchLock = setInterval(() => {
      if (lockSeen || this.#holder() !== id.pid) return;
      lockSeen = true;
      for (const p of older)
        if (isAlive(p)) history.observe("orphan-alive", { pid: p.pid, newSupervisor: id.pid, when: "the new instance took the data directory" });
    }, 10);
    try {
      const listening = await this.#waitLine(instance, (l) => l.message === "Listening", this.options.startTimeoutMs ?? 60_000);
      this.url = String(listening.url);
      this.#port = Number(new URL(this.url).port);
    } finally {
      clearInterval(watchLock);
    }
    for (const p of older) if (isAlive(p)) history.observe("orphan-alive", { pid: p.pid, newSupervisor: id.pid, when: "the new instance listened" });
    this.workers();
  }

  /** The worker processes of the running instance. */
  workers(): ProcessId[] {
    const supervisor = this.#instance?.id;
    if (supervisor === undefined) return [];
    // Only workers: the supervisor may also run the esbuild service tsx starts for sources it has not cached.
    const workers = childrenOf(supervisor.pid).filter((p) => hasEnv(p, "TORPOR_CLUSTER_WORKER"));
    for (const w of workers) if (!this.#seen.some((p) => p.pid === w.pid && p.start === w.start)) this.#seen.push(w);
    return workers;
  }

  /** SIGKILL of one process (a worker). */
  kill(p: ProcessId): boolean {
    return killIfAlive(p);
  }

  /** SIGKILL of the supervisor; resolves once it is gone (its workers are left to themselves). */
  async killSupervisor(): Promise<ProcessId[]> {
    const instance = this.#instance;
    if (instance === null) return [];
    const workers = this.workers();
    this.url = null;
    this.#instance = null;
    killIfAlive(instance.id);
    await instance.exited;
    return workers;
  }

  /** SIGHUP, then the outcome the supervisor writes to cluster/reload.json; `stuck` if none came within `deadlineMs`. */
  async reload(deadlineMs: number): Promise<{ ok: boolean; error?: string; stuck?: boolean }> {
    const instance = this.#instance;
    if (instance === null) return { ok: false, error: "not running" };
    const seq = ++this.#reloads;
    const file = join(this.dataDir, "cluster", "reload.json");
    const before = existsSync(file) ? readFileSync(file, "utf8") : "";
    instance.child.kill("SIGHUP");
    const until = Date.now() + deadlineMs;
    while (Date.now() < until && this.#instance === instance) {
      const now = existsSync(file) ? readFileSync(file, "utf8") : "";
      if (now !== before && now.endsWith("\n")) {
        const status = JSON.parse(now) as { ok: boolean; error?: string };
        return status.ok ? { ok: true } : { ok: false, error: status.error ?? "unknown" };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.#instance !== instance) return { ok: false, error: "the supervisor went away" };
    return { ok: false, stuck: true, error: `reload ${seq} reported nothing within ${deadlineMs} ms` };
  }

  /** SIGTERM and wait (graceful stop); a stop that takes longer than `deadlineMs` is recorded and finished with SIGKILL. */
  async stop(deadlineMs = 60_000): Promise<number | null> {
    const instance = this.#instance;
    let code: number | null = null;
    if (instance !== null) {
      this.workers();
      this.url = null;
      this.#instance = null;
      instance.child.kill("SIGTERM");
      const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), deadlineMs).unref());
      const result = await Promise.race([instance.exited, timer]);
      if (result === "late") {
        this.options.history.observe("stop-hang", { supervisor: instance.id.pid, deadlineMs });
        killIfAlive(instance.id);
        await instance.exited;
      } else code = result;
    }
    return code;
  }

  /** SIGKILLs every process of every instance still alive (cleanup after a run); returns how many there were. */
  killAll(): number {
    let n = 0;
    for (const p of this.#seen) if (killIfAlive(p)) n++;
    return n;
  }

  /** Resolves with the first JSON log line of `instance` that matches. */
  #waitLine(instance: Instance, match: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`supervisor ${instance.id.pid}: no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (line: Record<string, unknown>) => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const done = () => {
        clearTimeout(timer);
        instance.lines.splice(instance.lines.indexOf(listener), 1);
      };
      instance.lines.push(listener);
      void instance.exited.then((code) => {
        if (!instance.lines.includes(listener)) return;
        done();
        reject(new Error(`supervisor ${instance.id.pid} exited (${code}) while waiting for a log line`));
      });
    });
  }

  #capture(instance: Instance): void {
    const log = this.options.logFile;
    for (const stream of [instance.child.stdout!, instance.child.stderr!]) {
      let buffered = "";
      stream.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        let at: number;
        while ((at = buffered.indexOf("\n")) !== -1) {
          const text = buffered.slice(0, at);
          buffered = buffered.slice(at + 1);
          if (log !== undefined) appendFileSync(log, `${instance.id.pid} ${text}\n`);
          if (!text.startsWith("{")) continue;
          let line: Record<string, unknown>;
          try {
            line = JSON.parse(text) as Record<string, unknown>;
          } catch {
            continue;
          }
          for (const listener of [...instance.lines]) listener(line);
        }
      });
    }
  }

  /** The pid `<data>/torpor.pid` names (written once the data-directory lock is held). */
  #holder(): number | null {
    try {
      return Number.parseInt(readFileSync(join(this.dataDir, "torpor.pid"), "utf8"), 10);
    } catch {
      return null;
    }
  }
}
