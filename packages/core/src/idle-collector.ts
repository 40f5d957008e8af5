/**
 * Gives memory back once a process goes idle after a burst.
 *
 * V8 collects garbage when JavaScript allocates. A server that has just seen
 * a burst (thousands of objects hibernated, thousands of sockets closed) and
 * then goes quiet allocates nothing, so the garbage of the burst, and the
 * heap pages and young generation it grew, stay resident for good: an operator
 * sizes machines by a high-water mark that never comes down. Node has no
 * idle-time collection of its own (V8's memory reducer only starts after a
 * full collection the burst may never have triggered).
 *
 * This collector looks at the process every `intervalMs` on the runtime's
 * clock. When the event loop was (nearly) idle for two checks in a row and
 * something suggests garbage (many hibernations or socket closes since the
 * last collection, a heap that grew well past its size after it, or, with `youngGrowth`, a
 * young generation grown past what the last collection left), it runs
 * one full collection, compacting the old generation when it is fragmented,
 * so freed pages go back to the OS. Collections are at least `minGapMs` apart;
 * a busy process is never collected by it (V8's own collector runs there).
 * The cost is one full GC per burst, measured by `pnpm bench memory`.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { performance } from "node:perf_hooks";
import { runInNewContext } from "node:vm";
import { systemClock, type Clock, type TimerHandle } from "./clock.ts";
import type { Logger } from "./logger.ts";

/** What the collector reads from V8 (a seam for tests). */
export interface HeapFigures {
  /** Bytes in use across the heap. */
  used: number;
  /** Old generation: bytes committed and in use. */
  oldCommitted: number;
  oldUsed: number;
  /** Young generation: bytes committed. */
  youngCommitted: number;
}

/** How the collector is wired; everything but `releases` and `logger` has a default. */
export interface IdleCollectorOptions {
  /** Whose timers the looks run on (default the system clock). */
  clock?: Clock;
  /** A count that grows with work whose memory becomes garbage (hibernations, socket closes). */
  releases: () => number;
  logger: Logger;
  /** Time between looks (default 2,000 ms). */
  intervalMs?: number;
  /** Least time between two collections (default 5,000 ms). */
  minGapMs?: number;
  /** Releases since the last collection that make one worth running (default 100). */
  releasesThreshold?: number;
  /** Event-loop utilization below which an interval counts as idle (default 0.05). */
  idleUtilization?: number;
  /**
   * Count start-up as a burst (default false): loading a program's modules leaves garbage and a grown
   * young generation that an idle process would otherwise keep for good (a cluster pays it per worker).
   */
  afterStart?: boolean;
  /**
   * Count a young generation grown past what the last collection left as a burst (default false): for a
   * process that counts no releases (the cluster supervisor, which hands connections on), where a
   * flood V8 scavenged as it went leaves the heap used near its base and the young generation grown.
   * A serving runtime leaves it off: there it can collect between a burst and the hibernations that
   * follow, promoting objects about to become garbage (suspected from one run of `pnpm bench memory`:
   * 24 MiB kept after the visits with it on in every process, 11 MiB for the code before it).
   */
  youngGrowth?: boolean;
  /**
   * Live object instances now (a serving runtime). While a burst's objects are still live, a collection frees their
   * garbage but not them: they hibernate `hibernateAfterMs` after their last event, and a collection run between the two
   * copies them about (or compacts around them) only for a second one to free them. So a due collection waits while
   * `releasesThreshold` or more instances are live, for at most `liveWaitMs` (default 0: no wait).
   */
  liveObjects?: () => number;
  liveWaitMs?: number;
  /** Called after each collection (the runtime counts them in its metrics). */
  onCollection?: (collection: Collection) => void;
  /** @internal test seams: the collection itself, what runs after it (default: releaseNativeMemoryWith's), event-loop utilization since the last call, heap figures. */
  collect?: (compact: boolean) => void;
  release?: () => unknown;
  utilization?: () => number;
  heap?: () => HeapFigures;
}

/** What one collection did. */
export interface Collection {
  /** Wall time of the collection, and the process's CPU time over it (GC helper threads included), ms. */
  ms: number;
  cpuMs: number;
  compacted: boolean;
  before: HeapFigures;
  after: HeapFigures;
}

/** Heap growth since the last collection that is worth a look even without releases. */
const GROWTH_BYTES = 8 * 2 ** 20;
/** A young generation committed beyond this after a collection was not shrunk (V8 shrinks it only when allocation is slow). */
const YOUNG_GROWN_BYTES = 4 * 2 ** 20;
/**
 * Collections that may follow one that left the young generation grown, each `minGapMs` or more after the
 * last, while the process stays idle. V8 shrinks new space only in a collection whose last ~5 s of
 * allocation were slow (under ~1 MB/s) and not zero; a process still winding down a burst (a supervisor
 * whose workers are closing and hibernating thousands of objects) can miss that window for several looks,
 * and a young generation left grown is then kept for good (bench/RESULTS.md, issue 27, session memory-5).
 */
const YOUNG_RETRIES = 5;
/** What gives the process's freed native memory back to the OS after each collection (releaseNativeMemoryWith). */
let releaseNative: (() => unknown) | null = null;

/**
 * After each idle collection in this process, also call `release` (null: nothing). The CLI passes glibc's
 * `malloc_trim` (`@torpor/native`) where its addon was built: glibc gives back on its own only the top of
 * each heap, so what a flood of sockets left freed inside them stays in the process until trimmed. Process-wide,
 * as malloc is: the supervisor's collector and a worker's runtime's both call it. Its time counts in the collection's.
 */
export function releaseNativeMemoryWith(release: (() => unknown) | null): void {
  releaseNative = release;
}

/** Old-generation bytes committed but free beyond which a compacting collection is worth its copying. */
const FRAGMENTED_BYTES = 8 * 2 ** 20;

/** See the module comment. `start()` begins looking; `stop()` ends it. */
export class IdleCollector {
  readonly #o: Required<
    Omit<IdleCollectorOptions, "collect" | "release" | "utilization" | "heap" | "onCollection" | "afterStart" | "youngGrowth" | "liveObjects">
  >;
  readonly #liveObjects: (() => number) | undefined;
  /** When a due collection first waited for live instances to hibernate (null: not waiting). */
  #waitingSince: number | null = null;
  readonly #collect: (compact: boolean) => void;
  readonly #release: () => unknown;
  readonly #utilization: () => number;
  readonly #heap: () => HeapFigures;
  readonly #onCollection: ((collection: Collection) => void) | undefined;
  #timer: TimerHandle | null = null;
  #idleChecks = 0;
  #releasesAt = 0;
  #heapAfter = 0;
  /** Young generation committed after the last collection (or at start). */
  #youngAfter = 0;
  #lastAt = Number.NEGATIVE_INFINITY;
  /** Collections still allowed for a young generation the last one left grown (YOUNG_RETRIES). */
  #youngRetries = 0;
  /** The last collection's native release is to run again at the next idle look (see `#releaseLate`). */
  #releaseAgain = false;
  readonly #youngGrowth: boolean;
  /** Start-up not yet collected (with `afterStart`). */
  #startup: boolean;
  /** Collections run, and their total CPU time (ms): what this costs. */
  collections = 0;
  collectionMs = 0;

  constructor(options: IdleCollectorOptions) {
    this.#o = {
      clock: systemClock,
      intervalMs: 2_000,
      minGapMs: 5_000,
      releasesThreshold: 100,
      idleUtilization: 0.05,
      liveWaitMs: 0,
      ...options,
    };
    this.#liveObjects = options.liveObjects;
    this.#collect = options.collect ?? v8Collect;
    this.#release = options.release ?? (() => releaseNative?.());
    this.#utilization = options.utilization ?? eventLoopUtilization();
    this.#heap = options.heap ?? heapFigures;
    this.#onCollection = options.onCollection;
    this.#startup = options.afterStart === true;
    this.#youngGrowth = options.youngGrowth === true;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#releasesAt = this.#o.releases();
    const heap = this.#heap();
    this.#heapAfter = heap.used;
    this.#youngAfter = heap.youngCommitted;
    this.#utilization();
    this.#arm();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #arm(): void {
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = null;
      try {
        this.check();
      } finally {
        if (this.#timer === null) this.#arm();
      }
    }, this.#o.intervalMs);
  }

  /** One look (the timer calls it; tests may too). Returns what it collected, if it did. */
  check(): Collection | null {
    if (this.#utilization() > this.#o.idleUtilization) {
      this.#idleChecks = 0;
      return null;
    }
    if (this.#releaseAgain) this.#releaseLate();
    // Two idle intervals in a row: the burst is over, not pausing between messages.
    if (++this.#idleChecks < 2) return null;
    if (this.#o.clock.now() - this.#lastAt < this.#o.minGapMs) return null;
    const heap = this.#heap();
    const released = this.#o.releases() - this.#releasesAt;
    const grown = heap.used - this.#heapAfter > Math.max(GROWTH_BYTES, this.#heapAfter / 5);
    const young = this.#youngRetries > 0 && heap.youngCommitted > YOUNG_GROWN_BYTES;
    // A burst V8 scavenged as it went (a supervisor handing connections on) leaves little old-generation
    // growth but a young generation grown to its maximum, which an idle process keeps for good.
    const youngGrew = this.#youngGrowth && heap.youngCommitted > Math.max(YOUNG_GROWN_BYTES, this.#youngAfter);
    const burst = released >= this.#o.releasesThreshold || grown || youngGrew || this.#startup;
    if (!burst && !young) return null;
    if (burst && this.#waitForLive()) return null;
    return this.#run(heap, !burst);
  }

  /** Whether a due collection waits for the burst's live instances to hibernate (see `liveObjects`). */
  #waitForLive(): boolean {
    if (this.#liveObjects === undefined || this.#liveObjects() < this.#o.releasesThreshold) return false;
    const now = this.#o.clock.now();
    this.#waitingSince ??= now;
    return now - this.#waitingSince < this.#o.liveWaitMs;
  }

  /** `retry`: run only for a young generation a previous collection left grown. */
  #run(before: HeapFigures, retry: boolean): Collection {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const rss0 = process.memoryUsage.rss();
    this.#collect(false);
    let after = this.#heap();
    // A regular full collection frees whole pages only; copy the survivors together when much is left free.
    const free = after.oldCommitted - after.oldUsed;
    const compacted = free > Math.max(FRAGMENTED_BYTES, after.oldUsed / 4);
    if (compacted) {
      this.#collect(true);
      after = this.#heap();
    }
    const rss1 = process.memoryUsage.rss();
    // What the collection freed outside V8's heap (sockets' buffers and handles) is in malloc's arenas now.
    const trimmed = this.#release();
    const rss2 = process.memoryUsage.rss();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    // The collection's own time is not traffic: the next interval starts now.
    this.#utilization();
    this.collections++;
    this.collectionMs += cpuMs;
    this.#startup = false;
    this.#waitingSince = null;
    this.#lastAt = this.#o.clock.now();
    this.#releasesAt = this.#o.releases();
    this.#heapAfter = after.used;
    this.#youngAfter = after.youngCommitted;
    this.#releaseAgain = true;
    // V8 shrinks the young generation only when allocation was slow over its last few seconds: a
    // collection right after a burst may leave it grown, and a few more, spaced, while idle free it.
    if (after.youngCommitted <= YOUNG_GROWN_BYTES) this.#youngRetries = 0;
    else this.#youngRetries = retry ? this.#youngRetries - 1 : YOUNG_RETRIES;
    // Info: at most a few lines per burst, and an operator sees when a process paused for a full collection and what it gave back.
    this.#o.logger.info("Idle: collected garbage", {
      pid: process.pid,
      ms: Math.round(ms),
      cpuMs: Math.round(cpuMs),
      compacted,
      retry,
      // RSS before, after V8's collection, after the native release (malloc_trim where the CLI gave it).
      rssMiB: `${mib(rss0, rss1)} → ${(rss2 / 2 ** 20).toFixed(1)}`,
      ...(trimmed !== undefined ? { trimmed } : {}),
      heapUsedMiB: mib(before.used, after.used),
      oldCommittedMiB: mib(before.oldCommitted, after.oldCommitted),
      youngCommittedMiB: mib(before.youngCommitted, after.youngCommitted),
    });
    const collection = { ms, cpuMs, compacted, before, after };
    this.#onCollection?.(collection);
    return collection;
  }
  /**
   * The native release once more, at the first idle look after a collection. V8 frees the backing stores of the
   * ArrayBuffers a collection found dead after `gc()` has returned (its array-buffer sweeper runs on a helper thread),
   * so they reach malloc's arenas after the release that followed the collection, and would stay there until the next
   * collection, which an idle process may never run: one flood's socket buffers, 28–37 MiB per worker (bench/RESULTS.md,
   * issue 27, session memory-7). Node 20: `gc()` then `malloc_trim` leaves ~80 MiB of 20,000 dropped 4 KiB Buffers
   * resident, a trim one second later gives them back.
   */
  #releaseLate(): void {
    this.#releaseAgain = false;
    const cpu0 = process.cpuUsage();
    const rss0 = process.memoryUsage.rss();
    const trimmed = this.#release();
    const rss1 = process.memoryUsage.rss();
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    this.collectionMs += cpuMs;
    // Nothing to say where nothing was released (no malloc_trim: the addon did not build).
    if (trimmed === undefined) return;
    this.#o.logger.info("Idle: released native memory again", { pid: process.pid, cpuMs: Number(cpuMs.toFixed(1)), rssMiB: mib(rss0, rss1), trimmed });
  }
}

function mib(before: number, after: number): string {
  return `${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)}`;
}

function heapFigures(): HeapFigures {
  let used = 0;
  let oldCommitted = 0;
  let oldUsed = 0;
  let youngCommitted = 0;
  for (const s of getHeapSpaceStatistics()) {
    used += s.space_used_size;
    if (s.space_name === "old_space") {
      oldCommitted = s.space_size;
      oldUsed = s.space_used_size;
    } else if (s.space_name === "new_space") youngCommitted = s.space_size;
  }
  return { used, oldCommitted, oldUsed, youngCommitted };
}

/** Event-loop utilization since the previous call (0 = idle, 1 = busy all along). */
function eventLoopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

let gc: (() => void) | null = null;
/** The process was started with --compact-on-every-full-gc: leave that flag alone. */
const compactsAlways = process.execArgv.some((a) => /^--compact[-_]on[-_]every[-_]full[-_]gc$/.test(a));

/**
 * A full V8 collection. `gc` is exposed to a fresh context only (V8 reads --expose-gc when a
 * context is made), so the Worker's global scope never sees it. Compaction of every page is a V8
 * flag read at collection time, set for this one collection.
 */
function v8Collect(compact: boolean): void {
  if (gc === null) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) gc = exposed;
    else {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as () => void;
    }
  }
  const toggle = compact && !compactsAlways;
  if (toggle) setFlagsFromString("--compact-on-every-full-gc");
  try {
    gc();
  } finally {
    if (toggle) setFlagsFromString("--no-compact-on-every-full-gc");
  }
}
