// Figures of another process read from /proc (Linux): RSS, CPU time, open file descriptors.
import { readdirSync, readFileSync } from "node:fs";

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/** Resident set size in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? NaN : Number(m[1]) * 1024;
}

/** User + system CPU time in µs (10 ms resolution). */
export function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ")".
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

/**
 * CPU time in µs with nanosecond resolution: the sum over the process's threads of the time the
 * scheduler ran them (/proc/<pid>/task/<tid>/schedstat). For per-message figures over short rounds,
 * where `cpuOf`'s 10 ms ticks would be a few per cent of the round.
 */
export function runTimeOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read: its time is gone from the sum either way.
    }
  }
  return ns / 1000;
}

/** Open file descriptors. */
export function fdsOf(pid: number | "self"): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** One line of the process table: a process, its parent and its command name. */
interface ProcessEntry {
  pid: number;
  parent: number;
  comm: string;
}

/** Every process now (Linux /proc), read once: the one scan behind `findDescendant` and `treeOf`. */
function processTable(): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // The command name may hold spaces and parentheses: the fields after it start at the last ")".
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      out.push({ pid: Number(d), parent, comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The pid of a descendant of `root` whose command name is `comm` (e.g. workerd under miniflare), or null. */
export function findDescendant(root: number, comm: string): number | null {
  const table = processTable();
  const parent = new Map(table.map((p) => [p.pid, p.parent]));
  for (const { pid, comm: name } of table) {
    if (name !== comm) continue;
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return pid;
  }
  return null;
}

/** `pid` and every process below it (a cluster's supervisor and its workers). */
export function treeOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of processTable()) {
    const list = children.get(p.parent) ?? [];
    list.push(p.pid);
    children.set(p.parent, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** RSS summed over `pid` and its descendants, as an operator's monitoring adds it up (bytes). */
export function treeRssOf(pid: number): number {
  let sum = 0;
  for (const p of treeOf(pid)) {
    try {
      sum += rssOf(p);
    } catch {
      // Exited meanwhile.
    }
  }
  return sum;
}

/** The command name (`node`, `esbuild`, …). */
export function commOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}

/** User + system CPU time of `pid` and its descendants (µs). */
export function treeCpuOf(pid: number): number {
  let sum = 0;
  for (const p of treeOf(pid)) {
    try {
      sum += cpuOf(p);
    } catch {
      // Exited meanwhile.
    }
  }
  return sum;
}
