// The product-path sides of one scenario, measured in the same run: raw ws (the ceiling for anything
// built on ws; with better-sqlite3 where the scenario writes), workerd through miniflare (the same
// Worker module), and `torpor start` on bench/project. Servers are pinned to core 0, load to core 1.
import { buildPackages } from "./build.ts";
import { start, type Child } from "./proc.ts";
import { CLIENT_CPU, SERVER_CPU, scratchDir } from "./sides.ts";

export type Side = "raw" | "workerd" | "torpor" | "base";

/** BENCH_BASE_ROOT=<checkout>: a fourth side, "base", runs that checkout's `torpor start` (a baseline version, same run, same project). */
const BASE_ROOT = process.env.BENCH_BASE_ROOT;

/** `pnpm bench --quick`: smaller counts, one round, no workerd (for iterating). */
export const QUICK = process.env.BENCH_QUICK === "1";
/** workerd is measured in full runs (BENCH_WORKERD=0 leaves it out, =1 adds it to a quick run). */
export const WITH_WORKERD = process.env.BENCH_WORKERD === "1" || (!QUICK && process.env.BENCH_WORKERD !== "0");

export interface Product {
  readonly sides: Partial<Record<Side, Child>>;
  /** The sides started, in a fixed order. */
  readonly names: Side[];
  readonly dir: string;
  stop(): Promise<void>;
}

export interface ProductOptions {
  /** Start workerd too (default WITH_WORKERD). */
  workerd?: boolean;
  /** Start the raw baseline (default true). */
  raw?: boolean;
  /** `--hibernate-after-ms` of torpor start (default 10 minutes: nothing hibernates mid-measurement). */
  hibernateMs?: number;
  /** Node flags for the Node servers (raw and torpor start). */
  nodeFlags?: string[];
  /**
   * Pin the servers to the server core (default true). Unpinned, `torpor start` sees every core and
   * runs its default cluster (a supervisor and one worker per core), as an operator runs it.
   */
  pinned?: boolean;
  /** Both Node servers exactly as shipped: no --expose-gc, no Node flags, torpor start with no tuning flags. */
  defaults?: boolean;
  /**
   * Which CLI runs: "dist" (built, as npm installs it: no module hooks in any process) or "source" (this
   * checkout's TypeScript through tsx and a resolve hook in every process). Default: "dist" with `defaults`.
   */
  cli?: "source" | "dist";
  /** `torpor start --workers N` (default: the CLI's own choice). */
  workers?: number;
}

export async function startProduct(label: string, mode: string, o: ProductOptions = {}): Promise<Product> {
  const scratch = scratchDir(label);
  const names: Side[] = [
    ...(o.raw !== false ? (["raw"] as const) : []),
    ...((o.workerd ?? WITH_WORKERD) ? (["workerd"] as const) : []),
    "torpor",
    ...(BASE_ROOT ? (["base"] as const) : []),
  ];
  const env = { BENCH_MODE: mode, BENCH_DIR: scratch.dir };
  const nodeFlags = o.nodeFlags ?? [];
  const cli = o.cli ?? (o.defaults === true ? "dist" : "source");
  if (cli === "dist") buildPackages();
  const started = await Promise.all(
    names.map((side) => {
      if (side === "raw")
        return start(`raw-${label}`, "servers/raw.ts", { ...(o.pinned !== false ? { cpu: SERVER_CPU } : {}), env, nodeFlags, exposeGc: o.defaults !== true });
      if (side === "workerd") return start(`workerd-${label}`, "servers/workerd.ts", { cpu: SERVER_CPU, env });
      // The wrapper idles on the client core; it pins the CLI to the server core itself.
      return start(`${side}-${label}`, "servers/torpor-start.ts", {
        cpu: CLIENT_CPU,
        env: {
          ...env,
          BENCH_DIR: `${scratch.dir}/${side}`,
          ...(side === "base" ? { BENCH_TORPOR_ROOT: BASE_ROOT } : {}),
          BENCH_HIBERNATE_MS: String(o.hibernateMs ?? 600_000),
          BENCH_SERVER_NODE_FLAGS: nodeFlags.join(" "),
          BENCH_DEFAULTS: o.defaults === true ? "1" : "0",
          BENCH_PIN: o.pinned === false ? "0" : "1",
          BENCH_CLI: cli,
          ...(o.workers !== undefined ? { BENCH_WORKERS: String(o.workers) } : {}),
        },
      });
    }),
  );
  const sides: Partial<Record<Side, Child>> = {};
  names.forEach((n, i) => {
    sides[n] = started[i];
  });
  return {
    sides,
    names,
    dir: scratch.dir,
    async stop() {
      await Promise.all(started.map((c) => c.stop()));
      scratch.cleanup();
    },
  };
}

/** Runs `fn` for each side, rotating which goes first each round. */
export async function rotate<T>(names: Side[], rounds: number, fn: (side: Side, round: number) => Promise<T>): Promise<Partial<Record<Side, T[]>>> {
  const out: Partial<Record<Side, T[]>> = {};
  for (const n of names) out[n] = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const side = names[(r + k) % names.length]!;
      out[side]!.push(await fn(side, r));
    }
  }
  return out;
}

/** Polls until torpor start reports every object hibernated (deadline 30 s). */
export async function waitHibernated(torpor: Child, sockets: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await torpor.call<{ live: number; sockets: number }>("summary");
    if (s.live === 0 && s.sockets === sockets) return;
    if (Date.now() > deadline) throw new Error(`torpor: ${s.live} objects still live, ${s.sockets} sockets (expected 0 live, ${sockets} sockets)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
