// Where a process's resident memory is, from /proc/<pid>/smaps (Linux): glibc's main malloc arena (`[heap]`,
// the brk heap), its thread arenas (anonymous heaps of 64 MiB, aligned to their size: glibc's HEAP_MAX_SIZE),
// the rest of the anonymous memory (V8's heap pages and code, malloc's mmapped chunks, thread stacks) and
// file-backed mappings (the binary, libraries). One read of one file per process: cheap enough to take at
// a bench's base and settled points.
import { readFileSync } from "node:fs";

export interface SmapsFigures {
  /** RSS of each kind, bytes. */
  heap: number;
  arenas: number;
  otherAnon: number;
  file: number;
  /** Thread arenas found (mappings, not their RSS). */
  arenaCount: number;
}

const ARENA_BYTES = 64 * 2 ** 20;

interface Mapping {
  start: number;
  end: number;
  perms: string;
  name: string;
  rss: number;
}

/** The process's mappings and each one's RSS. */
function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let current: Mapping | null = null;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      current = { start: Number.parseInt(head[1]!, 16), end: Number.parseInt(head[2]!, 16), perms: head[3]!, name: head[4]!, rss: 0 };
      out.push(current);
    } else if (current !== null && line.startsWith("Rss:")) current.rss = Number(/(\d+)/.exec(line)![1]) * 1024;
  }
  return out;
}

export function smapsOf(pid: number): SmapsFigures {
  const all = mappings(pid);
  const f: SmapsFigures = { heap: 0, arenas: 0, otherAnon: 0, file: 0, arenaCount: 0 };
  for (let i = 0; i < all.length; i++) {
    const m = all[i]!;
    if (m.name === "[heap]") f.heap += m.rss;
    else if (m.name.startsWith("/")) f.file += m.rss;
    else if (m.name === "") {
      // A thread arena: its used part (read-write) from a 64 MiB boundary, the rest of the 64 MiB reserved (no access).
      const next = all[i + 1];
      const arena =
        m.start % ARENA_BYTES === 0 &&
        m.perms.startsWith("rw") &&
        (m.end - m.start === ARENA_BYTES || (next !== undefined && next.start === m.end && next.perms.startsWith("---") && next.end - m.start === ARENA_BYTES));
      if (arena) {
        f.arenas += m.rss;
        f.arenaCount++;
      } else f.otherAnon += m.rss;
    } else f.otherAnon += m.rss; // [stack], [vvar], [vdso], [anon:…]
  }
  return f;
}
