// `pnpm bench memory`'s notes on where torpor's settled memory is, per process: RSS over the settle,
// smaps (glibc's main arena, its thread arenas, the other anonymous memory: V8's heap, malloc's mmapped
// chunks) at the base, after the visits and after the flood, and the idle collector's log lines (when each
// process collected, its CPU, V8's heap before → after, RSS before → after V8's collection → after the trim;
// the trim it runs again at the next idle look, RSS before → after).
import type { SmapsFigures } from "./lib/smaps.ts";
import { fmt } from "./lib/stats.ts";

export type ProcessFigures = SmapsFigures & { pid: number };

interface Phase {
  perProcess: number[][];
  startAt: number;
  endAt: number;
}

const MIB = 2 ** 20;
const m = (b: number | undefined) => (b === undefined ? "—" : fmt(b / MIB));

export function whereKept(
  side: string,
  phases: { visits: Phase; flood: Phase },
  smaps: { base: ProcessFigures[]; visits: ProcessFigures[]; flood: ProcessFigures[] },
  log: Array<Record<string, unknown> & { at: number }>,
): string[] {
  const notes: string[] = [];
  const { visits, flood } = phases;
  smaps.base.forEach((base, i) => {
    const pid = base.pid;
    const of = (list: ProcessFigures[]) => list.find((p) => p.pid === pid);
    const kind = (k: keyof SmapsFigures) => [base, of(smaps.visits), of(smaps.flood)].map((f) => m(f?.[k])).join(" → ");
    // Every 5 s of the flood's settle (the series has one reading a second).
    const series = flood.perProcess.filter((_, s) => s % 5 === 0).map((row) => m(row[i]));
    const collections = log
      .filter((c) => c.pid === pid)
      .map((c) => {
        const when =
          c.at < flood.startAt
            ? `visits +${fmt((c.at - visits.endAt) / 1000)} s`
            : `flood ${c.at >= flood.endAt ? "+" : "−"}${fmt(Math.abs(c.at - flood.endAt) / 1000)} s`;
        if (c.message !== "Idle: collected garbage") return `${when} trim again (${c.cpuMs} ms CPU; RSS ${c.rssMiB})`;
        return `${when} (${c.cpuMs} ms CPU${c.compacted === true ? ", compacting" : ""}${c.retry === true ? ", young retry" : ""}; V8 used ${c.heapUsedMiB}, old ${c.oldCommittedMiB}, young ${c.youngCommittedMiB}; RSS ${c.rssMiB}${c.trimmed !== undefined ? `, trimmed ${c.trimmed}` : ""})`;
      });
    notes.push(
      `- ${side}, ${i === 0 ? "supervisor" : `worker ${i}`} (pid ${pid}): RSS every 5 s after the flood ${series.join(" ")} MiB; ` +
        `smaps base → after the visits → after the flood, MiB: [heap] ${kind("heap")}, thread arenas (${of(smaps.flood)?.arenaCount ?? "—"}) ${kind("arenas")}, ` +
        `other anonymous (V8, mmapped chunks) ${kind("otherAnon")}, files ${kind("file")}; ` +
        `idle collections: ${collections.length > 0 ? collections.join("; ") : log.length > 0 ? "none" : "none logged (a version that logs them at debug level only)"}`,
    );
  });
  return notes;
}
