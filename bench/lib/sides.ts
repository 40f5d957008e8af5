// Starting the two sides (Torpor and its raw ws baseline) and a load generator, pinned apart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { start, type Child } from "./proc.ts";
import type { Row } from "./stats.ts";

export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

/** What each figure script returns. */
export interface PartResult {
  rows: Row[];
  /** Markdown lines with the per-round figures. */
  notes: string[];
}

export interface Sides {
  raw: Child;
  torpor: Child;
  stop(): Promise<void>;
}

export async function startSides(label: string, env: Record<string, string>, nodeFlags: string[] = []): Promise<Sides> {
  const [raw, torpor] = await Promise.all([
    start(`raw-${label}`, "servers/raw.ts", { cpu: SERVER_CPU, env, nodeFlags }),
    start(`torpor-${label}`, "servers/torpor.ts", { cpu: SERVER_CPU, env, nodeFlags }),
  ]);
  return { raw, torpor, stop: async () => void (await Promise.all([raw.stop(), torpor.stop()])) };
}

export function startLoadgen(name = "loadgen", localAddress = ""): Promise<Child> {
  return start(name, "loadgen.ts", { cpu: CLIENT_CPU, env: { BENCH_LOCAL_ADDRESS: localAddress } });
}

export const wsBase = (c: Child) => `ws://127.0.0.1:${c.info.port as number}`;

/** A scratch directory for databases (on the same disk as the repo's tmp), removed by `cleanup`. */
export function scratchDir(label: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `torpor-bench-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `fn` for each side, alternating which goes first each round (interleaving). */
export async function interleave<T>(rounds: number, fn: (side: "raw" | "torpor", round: number) => Promise<T>): Promise<{ raw: T[]; torpor: T[] }> {
  const out = { raw: [] as T[], torpor: [] as T[] };
  for (let r = 0; r < rounds; r++) {
    const order: Array<"raw" | "torpor"> = r % 2 === 0 ? ["raw", "torpor"] : ["torpor", "raw"];
    for (const side of order) out[side].push(await fn(side, r));
  }
  return out;
}
