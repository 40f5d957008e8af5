/**
 * Processes as the kernel sees them (Linux /proc): a pid with its start time
 * names one process for good, so a pid the kernel reused is never mistaken
 * for the process that had it before.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One process: its pid and its start time (clock ticks after boot). */
export interface ProcessId {
  pid: number;
  start: number;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function stat(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** The process with this pid now, or null. */
export function processId(pid: number): ProcessId | null {
  const fields = stat(pid);
  // After the name: state (0), ppid (1) … starttime is field 22 of the line, index 19 here.
  if (fields === null || fields[0] === "Z") return null;
  return { pid, start: Number(fields[19]) };
}

/** True while that very process runs (not a zombie, not a later process with the same pid). */
export function isAlive(p: ProcessId): boolean {
  return processId(p.pid)?.start === p.start;
}

/** The live children of `parent`. */
export function childrenOf(parent: number): ProcessId[] {
  const out: ProcessId[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(Number(entry));
    if (fields === null || fields[0] === "Z" || Number(fields[1]) !== parent) continue;
    out.push({ pid: Number(entry), start: Number(fields[19]) });
  }
  return out;
}

/** True if the process's environment has `name` set (false once it is gone). */
export function hasEnv(p: ProcessId, name: string): boolean {
  try {
    return (
      isAlive(p) &&
      readFileSync(`/proc/${p.pid}/environ`, "utf8")
        .split("\0")
        .some((v) => v.startsWith(`${name}=`))
    );
  } catch {
    return false;
  }
}

/** SIGKILLs the process if it is still that process. */
export function killIfAlive(p: ProcessId, signal: NodeJS.Signals = "SIGKILL"): boolean {
  if (!isAlive(p)) return false;
  try {
    process.kill(p.pid, signal);
    return true;
  } catch {
    return false;
  }
}
