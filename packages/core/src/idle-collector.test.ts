import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { type HeapFigures, IdleCollector, releaseNativeMemoryWith } from "./idle-collector.ts";
import { silentLogger } from "./logger.ts";
import { VirtualClock } from "./virtual-clock.ts";

const MiB = 2 ** 20;

/** A collector on a virtual clock whose V8 is a script: utilization, heap and releases set by the test. */
function rig(o: { minGapMs?: number; afterStart?: boolean; youngGrowth?: boolean; release?: boolean; liveWaitMs?: number } = {}) {
  const clock = new VirtualClock(0);
  const state = {
    busy: 0,
    releases: 0,
    heap: { used: 50 * MiB, oldCommitted: 54 * MiB, oldUsed: 45 * MiB, youngCommitted: 1 * MiB } as HeapFigures,
    /** What a collection leaves: the heap after it (per compact flag). */
    after: (compact: boolean, h: HeapFigures): HeapFigures => (compact ? { ...h, oldCommitted: h.oldUsed } : h),
    runs: [] as boolean[],
    /** When (on the clock) each native release ran. */
    trims: [] as number[],
    /** Live object instances. */
    live: 0,
    /** When the last collection ran. */
    runAt: 0,
  };
  const collector = new IdleCollector({
    clock,
    logger: silentLogger,
    releases: () => state.releases,
    intervalMs: 1_000,
    ...(o.minGapMs !== undefined ? { minGapMs: o.minGapMs } : {}),
    ...(o.afterStart !== undefined ? { afterStart: o.afterStart } : {}),
    ...(o.youngGrowth !== undefined ? { youngGrowth: o.youngGrowth } : {}),
    utilization: () => state.busy,
    heap: () => state.heap,
    collect: (compact) => {
      state.runAt = clock.now();
      state.runs.push(compact);
      state.heap = state.after(compact, state.heap);
    },
    ...(o.release === true ? { release: () => state.trims.push(clock.now()) } : {}),
    ...(o.liveWaitMs !== undefined ? { liveObjects: () => state.live, liveWaitMs: o.liveWaitMs } : {}),
  });
  collector.start();
  return { clock, state, collector };
}

describe("idle collector", () => {
  test("releaseNativeMemoryWith: what it was given runs after each collection, once V8's (compacting) collections are done", async () => {
    // The collections the rig's V8 ran, as each release saw them.
    let runs: boolean[] = [];
    const seen: boolean[][] = [];
    releaseNativeMemoryWith(() => seen.push([...runs]));
    try {
      const { clock, state } = rig();
      runs = state.runs;
      // Fragmented: the collection is followed by a compacting one.
      state.heap = { ...state.heap, oldCommitted: 90 * MiB };
      state.releases = 150;
      await clock.advance(2_000);
      expect(seen).toEqual([[false, true]]);
      state.releases = 300;
      await clock.advance(10_000);
      // Each collection's release, and once more at the next idle look.
      expect(seen).toEqual([
        [false, true],
        [false, true],
        [false, true, false],
        [false, true, false],
      ]);
    } finally {
      releaseNativeMemoryWith(null);
    }
  });

  test("the native release runs again at the first idle look after each collection: what V8 frees once its collection has returned is given back too", async () => {
    // Seen in `pnpm bench memory` (bench/RESULTS.md, session memory-7): backing stores and pages V8 frees on its helper
    // threads after `gc()` returned reach malloc's arenas after the trim that followed the collection.
    const { clock, state } = rig({ release: true });
    state.releases = 150;
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1);
    expect(state.trims).toEqual([2_000]);
    state.busy = 0.9; // busy looks wait
    await clock.advance(3_000);
    expect(state.trims).toEqual([2_000]);
    state.busy = 0;
    await clock.advance(1_000);
    expect(state.trims).toEqual([2_000, 6_000]);
    await clock.advance(60_000);
    expect(state.trims).toEqual([2_000, 6_000]); // once per collection, not at every look
    expect(state.runs).toHaveLength(1);
  });

  test("liveObjects: a burst's collection waits while its objects are live (they hibernate 10 s after their last event), at most liveWaitMs", async () => {
    // A flood of 7,500 sockets that close: each object is woken for webSocketClose (7,500 releases) and hibernates
    // 10 s later. A collection between the two frees the closes' garbage but not the objects, and may compact around
    // them; the one that frees them must then come within the operator's 30 s (bench/RESULTS.md, session memory-7).
    const { clock, state } = rig({ liveWaitMs: 12_000 });
    state.releases = 7_500;
    state.live = 7_500;
    await clock.advance(9_000);
    expect(state.runs).toEqual([]); // idle, due, but the objects are still live
    state.releases = 15_000; // the hibernation wave
    state.live = 0;
    await clock.advance(1_000);
    expect(state.runs).toHaveLength(1);
    expect(clock.now()).toBe(10_000);
    await clock.advance(60_000);
    expect(state.runs).toHaveLength(1); // one collection for the burst, after its objects hibernated
    // Objects pinned live (open connections of their own): the wait is bounded.
    state.releases = 20_000;
    state.live = 5_000;
    const due = clock.now();
    await clock.advance(30_000);
    expect(state.runs).toHaveLength(2);
    expect(state.runAt).toBeLessThanOrEqual(due + 1_000 + 12_000);
  });

  test("collects once after a burst of releases, when two intervals in a row were idle", async () => {
    const { clock, state, collector } = rig();
    state.releases = 150;
    state.busy = 0.9;
    await clock.advance(5_000);
    expect(state.runs).toEqual([]); // busy: V8's own collector runs there
    state.busy = 0;
    await clock.advance(1_000);
    expect(state.runs).toEqual([]); // one idle interval could be a pause between messages
    await clock.advance(1_000);
    expect(state.runs).toHaveLength(1);
    await clock.advance(60_000);
    expect(state.runs).toHaveLength(1); // nothing new since
    expect(collector.collections).toBe(1);
  });

  test("afterStart: start-up counts as a burst (one collection once idle, then the young generation's retries), without it nothing runs", async () => {
    const { clock, state, collector } = rig({ afterStart: true });
    // Loading the program grew the young generation; a collection right away does not shrink it.
    state.heap = { ...state.heap, youngCommitted: 16 * MiB };
    state.busy = 0.9;
    await clock.advance(5_000);
    expect(state.runs).toEqual([]);
    state.busy = 0;
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1);
    await clock.advance(60_000);
    expect(state.runs).toHaveLength(6); // the young generation's retries (this V8 never shrinks it), bounded
    expect(collector.collections).toBe(6);
    const plain = rig();
    await plain.clock.advance(60_000);
    expect(plain.state.runs).toEqual([]);
  });

  test("a few releases or a little growth are not worth a collection", async () => {
    const { clock, state } = rig();
    state.releases = 99;
    state.heap = { ...state.heap, used: state.heap.used + 4 * MiB };
    await clock.advance(30_000);
    expect(state.runs).toEqual([]);
  });

  test("heap growth alone (garbage no counter sees) triggers it", async () => {
    const { clock, state } = rig();
    state.heap = { ...state.heap, used: 80 * MiB };
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1);
  });

  test("collections are at least minGapMs apart", async () => {
    const { clock, state } = rig({ minGapMs: 10_000 });
    state.releases = 100;
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1);
    state.releases = 200;
    await clock.advance(8_000);
    expect(state.runs).toHaveLength(1);
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(2);
  });

  test("compacts only an old generation left fragmented by the regular collection", async () => {
    const { clock, state } = rig();
    // 54 MiB committed for 45 used: 9 free is over 8 MiB but under a quarter of 45: not worth copying.
    state.releases = 100;
    await clock.advance(2_000);
    expect(state.runs).toEqual([false]);
    state.heap = { used: 20 * MiB, oldCommitted: 200 * MiB, oldUsed: 15 * MiB, youngCommitted: 1 * MiB };
    state.releases = 300;
    await clock.advance(6_000);
    expect(state.runs).toEqual([false, false, true]);
    expect(state.heap.oldCommitted).toBe(15 * MiB);
  });

  test("a young generation left grown gets a few more collections, spaced, not an endless series", async () => {
    const { clock, state } = rig();
    state.heap = { ...state.heap, youngCommitted: 32 * MiB };
    state.releases = 100;
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1);
    await clock.advance(5_000);
    expect(state.runs).toHaveLength(2);
    await clock.advance(600_000);
    expect(state.runs).toHaveLength(6); // the burst's collection and five retries, then it is kept
    // A new burst starts a new series.
    state.releases = 300;
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(7);
    await clock.advance(600_000);
    expect(state.runs).toHaveLength(12);
  });

  test("youngGrowth: a young generation that V8 shrinks only after a long wind-down is given back within 30 s of idle", async () => {
    // The supervisor after a flood: its workers keep it allocating (routing the closes, then the
    // hibernations 10 s on) just above V8's slow-allocation threshold for 14 s after its event loop went
    // idle, so no collection before then shrinks new space; one after it does (V8's rule, scripted).
    const { clock, state } = rig({ youngGrowth: true });
    state.heap = { ...state.heap, youngCommitted: 32 * MiB };
    state.after = (compact, h) => {
      const collected = compact ? { ...h, oldCommitted: h.oldUsed } : h;
      return clock.now() >= 14_000 ? { ...collected, youngCommitted: 1 * MiB } : collected;
    };
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1); // the burst's collection, too early to shrink
    await clock.advance(28_000);
    expect(state.heap.youngCommitted).toBe(1 * MiB);
    const runs = state.runs.length;
    await clock.advance(600_000);
    expect(state.runs).toHaveLength(runs); // shrunk: no more retries
  });

  test("youngGrowth: a young generation a burst grew (no releases, no old-generation growth) is collected once idle, then not until it grows again; without the option it is not", async () => {
    const off = rig();
    off.state.heap = { ...off.state.heap, youngCommitted: 16 * MiB };
    await off.clock.advance(60_000);
    expect(off.state.runs).toEqual([]);
    const { clock, state } = rig({ youngGrowth: true });
    // A supervisor handing thousands of connections on: V8 scavenged as it went, the young generation grew to its maximum.
    state.heap = { ...state.heap, youngCommitted: 16 * MiB };
    // A collection that shrinks it (V8 does once allocation has slowed).
    state.after = (compact, h) => ({ ...(compact ? { ...h, oldCommitted: h.oldUsed } : h), youngCommitted: 1 * MiB });
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(1);
    await clock.advance(60_000);
    expect(state.runs).toHaveLength(1);
    state.heap = { ...state.heap, youngCommitted: 2 * MiB }; // a little traffic: not worth one
    await clock.advance(60_000);
    expect(state.runs).toHaveLength(1);
    state.heap = { ...state.heap, youngCommitted: 32 * MiB }; // the next burst
    await clock.advance(2_000);
    expect(state.runs).toHaveLength(2);
  });

  test("stop() ends the looks", async () => {
    const { clock, state, collector } = rig();
    collector.stop();
    state.releases = 1_000;
    await clock.advance(60_000);
    expect(state.runs).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  test("with V8 as shipped (no --expose-gc), garbage of an idle process is collected and its pages given back", () => {
    // A child without --expose-gc: the collector must get its collection some other way, and the
    // main context must not see a `gc` global. The child makes a burst of garbage, goes idle (it
    // allocates nothing more), and reports whether a WeakRef into the garbage was cleared and how much
    // old space stayed committed.
    const script = `
      import { IdleCollector } from ${JSON.stringify(fileURLToPath(new URL("./idle-collector.ts", import.meta.url)))};
      import { getHeapSpaceStatistics } from "node:v8";
      const old = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space").space_size;
      const before = old();
      let garbage = [];
      for (let i = 0; i < 400_000; i++) garbage.push({ i, s: "x" + i });
      const ref = new WeakRef(garbage);
      const grown = old();
      garbage = null;
      const logger = { debug() {}, info() {}, warn() {}, error() {} };
      let releases = 0;
      const clock = { now: () => Date.now(), setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); return { cancel: () => clearTimeout(t) }; } };
      const collector = new IdleCollector({ clock, logger, releases: () => releases, intervalMs: 200, minGapMs: 0 });
      collector.start();
      releases = 1000;
      const deadline = Date.now() + 20_000;
      const poll = () => {
        if (collector.collections > 0 || Date.now() > deadline) {
          collector.stop();
          console.log(JSON.stringify({ exposed: typeof globalThis.gc, cleared: ref.deref() === undefined, collections: collector.collections, before, grown, after: old() }));
        } else setTimeout(poll, 50);
      };
      poll();
    `;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(run.stderr).toBe("");
    const out = JSON.parse(run.stdout) as { exposed: string; cleared: boolean; collections: number; before: number; grown: number; after: number };
    expect(out.exposed).toBe("undefined");
    expect(out.collections).toBe(1);
    expect(out.cleared).toBe(true);
    expect(out.grown - out.before).toBeGreaterThan(10 * MiB);
    // Compacted back to about where it started (a few MiB of slack for code and caches).
    expect(out.after).toBeLessThan(out.before + 4 * MiB);
  });
});
