/**
 * Processes below a test's server, from Linux /proc: a supervisor's workers (to kill or pause one), or a
 * node's whole family (to signal all of it). The one copy for the CLI's process tests.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The pids of a process's live children (zombies left out: they have exited, only their parent has not reaped them). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: the fields after it (state, then parent pid) start at the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && fields[0] !== "Z") out.push(Number(entry));
    } catch {
      // Gone while listing.
    }
  }
  return out;
}
