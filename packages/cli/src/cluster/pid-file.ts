/**
 * `<persist-to>/cluster/supervisor.pid`: how `torpor reload` finds the
 * supervisor. A pid alone is not enough: after a crash the file is stale,
 * and the kernel may have given the pid to another process, which must not
 * get a SIGHUP (its default action ends it). So the file also holds the
 * process's start time (Linux: /proc/<pid>/stat), and the pid counts only
 * while a process with that pid and that start time runs.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const FILE = "supervisor.pid";

/** A process's start time in clock ticks after boot, or null where /proc is not available. */
export function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is the 3rd field of the line, starttime the 22nd.
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

/** Names this process as the supervisor of the cluster in `dir`. */
export function writeSupervisorPid(dir: string): void {
  const file = join(dir, FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ pid: process.pid, start: processStart(process.pid) })}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Removes the file if it names this process. */
export function removeSupervisorPid(dir: string): void {
  if (readSupervisorPid(dir)?.pid === process.pid) rmSync(join(dir, FILE), { force: true });
}

/** What the file says, or null without one. */
export function readSupervisorPid(dir: string): { pid: number; start: number | null } | null {
  let text: string;
  try {
    text = readFileSync(join(dir, FILE), "utf8");
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as { pid?: unknown; start?: unknown };
    if (typeof parsed.pid === "number" && Number.isSafeInteger(parsed.pid) && parsed.pid > 0) {
      return { pid: parsed.pid, start: typeof parsed.start === "number" ? parsed.start : null };
    }
  } catch {
    // Not JSON: a damaged file names no process.
  }
  return null;
}

/** Whether the process the file names still runs (same pid and, where it can be told, same start time). */
export function isRunning(named: { pid: number; start: number | null }): boolean {
  try {
    process.kill(named.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (named.start === null) return true;
  return processStart(named.pid) === named.start;
}
