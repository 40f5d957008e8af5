// Child processes (servers and load generators) driven over Node's IPC channel.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const benchDir = fileURLToPath(new URL("../", import.meta.url));

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** What the child sent with `ready()` (e.g. its port). */
  readonly info: Record<string, unknown>;
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3 s; longer where the child writes a CPU profile on exit). */
  stop(graceMs?: number): Promise<void>;
  /** Asks the child to exit cleanly (`--cpu-prof` profiles are written) and waits until it has. */
  exit(): Promise<void>;
}

export interface SpawnOptions {
  /** Core to pin to with taskset (if present). */
  cpu?: number;
  env?: Record<string, string>;
  nodeFlags?: string[];
  /** Add --expose-gc (default true; false runs Node exactly as shipped, for figures at the defaults). */
  exposeGc?: boolean;
}

/** Starts `bench/<script>` under tsx with the source condition and (unless `exposeGc: false`) --expose-gc, file-descriptor limit raised to the hard limit. */
export async function start(name: string, script: string, opts: SpawnOptions = {}): Promise<Child> {
  const node = [
    process.execPath,
    "--conditions=@torpor/source",
    "--import",
    "tsx",
    ...(opts.exposeGc === false ? [] : ["--expose-gc"]),
    ...(opts.nodeFlags ?? []),
    `${benchDir}${script}`,
  ];
  const pin = hasTaskset && opts.cpu !== undefined ? `taskset -c ${opts.cpu} ` : "";
  const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pin}${node.map(quote).join(" ")}`;
  const child: ChildProcess = spawn("sh", ["-c", cmd], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...opts.env, BENCH_NAME: name },
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let exited = false;
  const exitedP = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  child.once("exit", (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (${code ?? signal})`));
    pending.clear();
  });
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    // BENCH_START_TIMEOUT_MS: a loaded machine starting many processes (a cluster of 8 from sources) needs longer.
    const startMs = Number(process.env.BENCH_START_TIMEOUT_MS ?? 120_000);
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${startMs / 1000} s`)), startMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during start-up (${code})`));
    });
    child.on("message", (m: { type?: string; id?: number; ok?: boolean; value?: unknown; error?: string }) => {
      if (m.type === "ready") {
        clearTimeout(timer);
        resolve((m.value ?? {}) as Record<string, unknown>);
      } else if (m.id !== undefined) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.ok) p?.resolve(m.value);
        else p?.reject(new Error(`${name}: ${m.error}`));
      }
    });
  });
  return {
    name,
    pid: child.pid!,
    info,
    call<T>(cmd: string, args: Record<string, unknown> = {}) {
      if (exited) return Promise.reject(new Error(`${name} has exited`));
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd, args });
      });
    },
    async stop(graceMs = 3_000) {
      if (exited) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exitedP;
      clearTimeout(t);
    },
    async exit() {
      if (exited) return;
      child.send({ id: ++seq, cmd: "exit", args: {} });
      const t = setTimeout(() => child.kill("SIGKILL"), 60_000);
      await exitedP;
      clearTimeout(t);
    },
  };
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** Child side: answer the parent's calls with these handlers, then announce readiness. */
export function serve(handlers: Record<string, (args: any) => unknown>, readyInfo: Record<string, unknown> = {}): void {
  process.on("message", async (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
    try {
      // A clean exit (writes --cpu-prof profiles, unlike a signal).
      if (m.cmd === "exit") setImmediate(() => process.exit(0));
      const fn = m.cmd === "exit" ? () => true : handlers[m.cmd];
      if (fn === undefined) throw new Error(`unknown command ${m.cmd}`);
      const value = await fn(m.args);
      process.send!({ id: m.id, ok: true, value });
    } catch (error) {
      process.send!({ id: m.id, ok: false, error: (error as Error).stack ?? String(error) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send!({ type: "ready", value: readyInfo });
}

/** Server-side figures: RSS after a full GC and a settle, and CPU time so far. */
export async function serverStats(): Promise<{ rss: number; heapUsed: number; heapTotal: number; external: number; cpuUs: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 150));
  }
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, cpuUs: c.user + c.system };
}

/** CPU time only (cheap: for before/after a load phase). */
export function cpuNow(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}
