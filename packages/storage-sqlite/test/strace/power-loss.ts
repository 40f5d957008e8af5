/**
 * A power loss, replayed from a syscall trace: what would be on disk if the
 * machine lost power at a given point of the trace. Built from the writes,
 * syncs and names the process really made (trace.ts), under this model of a
 * Linux file system:
 *
 * - Data is written back a page (4 KiB) at a time. A page written and not yet
 *   synced is lost at power loss (the pessimistic case: nothing unsynced
 *   survives).
 * - A successful fsync/fdatasync makes durable every page of that file that
 *   was dirty when the call started, with its content at that moment, and
 *   the file's size. Pages written while it ran stay dirty.
 * - A failed fsync (EIO) loses the dirty pages it covered: the kernel marks
 *   them clean without writing them, so a later successful sync does not
 *   write them either (Linux since 4.13, the "fsyncgate" behaviour), until a
 *   write dirties the page again; the process still reads them from the
 *   cache meanwhile.
 * - A new file or directory exists after power loss only once its parent
 *   directory was fsynced after it was created. An unlink is durable at once
 *   (SQLite assumes it for a deleted WAL; ext4 and XFS journal it in order).
 *
 * The result is a directory of files as they would be found after the
 * power loss, to open with SQLite (which then runs its own recovery).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { TraceEvent } from "./trace.ts";

const PAGE = 4096;

interface Node {
  /** A directory (made by mkdir, or the root). */
  dir: boolean;
  /** Its name is on disk (it survives a power loss). */
  durableName: boolean;
  cache: Buffer;
  size: number;
  durable: Buffer;
  durableSize: number;
  /** Dirty pages and the write count when each was last dirtied. */
  dirty: Map<number, number>;
  writes: number;
}

interface SyncStart {
  pages: Map<number, { version: number; content: Buffer }>;
  size: number;
}

function newNode(dir: boolean, durableName: boolean): Node {
  return { dir, durableName, cache: Buffer.alloc(0), size: 0, durable: Buffer.alloc(0), durableSize: 0, dirty: new Map(), writes: 0 };
}

function grow(buf: Buffer, size: number): Buffer {
  if (buf.length >= size) return buf;
  const bigger = Buffer.alloc(Math.max(size, buf.length * 2));
  buf.copy(bigger);
  return bigger;
}

/** The files under `root` as a power loss right after trace line `cut` would leave them. */
export function filesAfterPowerLoss(events: TraceEvent[], root: string, cut: number): Map<string, Buffer> {
  const nodes = new Map<string, Node>([[root, newNode(true, true)]]);
  const started = new Map<TraceEvent, SyncStart>();
  // Each sync acts at its start (which pages it covers) and at its end (whether they became durable).
  type Step = { at: number; event: TraceEvent; phase: "start" | "end" };
  const steps: Step[] = [];
  for (const event of events) {
    if (event.kind === "sync") steps.push({ at: event.call.entry, event, phase: "start" });
    if (event.kind !== "send") steps.push({ at: event.call.exit, event, phase: "end" });
  }
  steps.sort((a, b) => a.at - b.at || (a.phase === "start" ? -1 : 1));

  const node = (path: string): Node | undefined => nodes.get(path);
  for (const { at, event, phase } of steps) {
    if (at > cut) break;
    switch (event.kind) {
      case "mkdir":
        if (!nodes.has(event.path)) nodes.set(event.path, newNode(true, false));
        break;
      case "create":
        if (!nodes.has(event.path)) nodes.set(event.path, newNode(false, false));
        break;
      case "unlink":
        nodes.delete(event.path);
        break;
      case "truncate": {
        const n = node(event.path);
        if (n === undefined) break;
        n.cache = grow(n.cache, event.length!);
        n.cache.fill(0, event.length!, n.size);
        n.size = event.length!;
        break;
      }
      case "write": {
        const n = node(event.path);
        if (n === undefined) throw new Error(`write to ${event.path} (line ${event.call.exit + 1}) before it was created`);
        const end = event.offset + event.data.length;
        n.cache = grow(n.cache, end);
        event.data.copy(n.cache, event.offset);
        n.size = Math.max(n.size, end);
        n.writes++;
        for (let page = Math.floor(event.offset / PAGE); page * PAGE < end; page++) n.dirty.set(page, n.writes);
        break;
      }
      case "sync": {
        const n = node(event.path);
        if (n === undefined) break;
        if (phase === "start") {
          const pages = new Map<number, { version: number; content: Buffer }>();
          for (const [page, version] of n.dirty) pages.set(page, { version, content: Buffer.from(n.cache.subarray(page * PAGE, (page + 1) * PAGE)) });
          started.set(event, { pages, size: n.size });
          break;
        }
        const start = started.get(event);
        if (start === undefined) break;
        for (const [page, { version, content }] of start.pages) {
          if (event.ok) {
            n.durable = grow(n.durable, page * PAGE + content.length);
            content.copy(n.durable, page * PAGE);
          }
          // Written back, or (failed) marked clean without being written: either way no longer dirty, unless written again since.
          if (n.dirty.get(page) === version) n.dirty.delete(page);
        }
        if (event.ok) {
          n.durableSize = start.size;
          // A synced directory makes the names in it durable.
          if (n.dir) for (const [path, child] of nodes) if (dirname(path) === event.path) child.durableName = true;
        }
        break;
      }
    }
  }

  const files = new Map<string, Buffer>();
  const reachable = (path: string): boolean => {
    for (let p = path; p !== root; p = dirname(p)) {
      const n = nodes.get(p);
      if (n === undefined || !n.durableName) return false;
    }
    return true;
  };
  for (const [path, n] of nodes) {
    if (n.dir || !reachable(path)) continue;
    files.set(path, Buffer.from(n.durable.subarray(0, n.durableSize)));
  }
  return files;
}

/** Writes `files` (absolute paths under `root`) into `into`, keeping their places relative to `root`. */
export function writeFiles(files: Map<string, Buffer>, root: string, into: string): void {
  for (const [path, content] of files) {
    const target = join(into, relative(root, path));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}
