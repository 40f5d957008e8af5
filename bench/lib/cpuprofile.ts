// Reading a V8 CPU profile (`node --cpu-prof`) as time per layer: every sample is charged to the
// innermost frame that belongs to a known layer (a V8 builtin with no script, such as a Promise
// method, is charged to the code that called it), so the layers' shares add up to the busy time.
import { readdirSync, readFileSync, statSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The layer a frame belongs to, or null for a frame with no script (charged to its caller). */
export function layerOf(frame: CallFrame): string | null {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName === "(garbage collector)") return "V8: garbage collector";
    if (functionName === "(program)") return "native (syscalls, libuv, V8 outside JS)";
    if (functionName === "(idle)") return "idle";
    if (functionName === "(root)") return "native (syscalls, libuv, V8 outside JS)";
    return null;
  }
  // Core by module, so the event path's parts (input gate, dispatch, output gate, fault isolation) show apart.
  const core = /packages\/core\/(?:src|dist)\/([a-z-]+\/[a-z-]+)\.[jt]s/.exec(url);
  if (core) return `@torpor/core ${core[1]}`;
  if (/packages\/core\/(?:src|dist)\/[^/]+\.[jt]s/.test(url)) return "@torpor/core (root files)";
  const pkg = /packages\/([a-z-]+)\//.exec(url);
  if (pkg && !url.includes("node_modules")) return `@torpor/${pkg[1]}`;
  if (/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?ws\//.test(url)) return "ws";
  if (/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?better-sqlite3\//.test(url)) return "better-sqlite3";
  if (/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?undici/.test(url) || url.includes("internal/deps/undici")) return "undici (Request/Response)";
  if (/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?tsx\//.test(url)) return "tsx (loader)";
  if (url.includes("bench/project/")) return "app (the Worker and object code)";
  if (url.includes("bench/")) return "bench harness";
  if (url.startsWith("node:")) {
    const m = url.slice(5);
    if (/^(net|stream|internal\/stream_base_commons|internal\/streams\/|_stream|internal\/net|buffer|internal\/buffer)/.test(m)) return "node: net and streams";
    if (/^(async_hooks|internal\/async_hooks|internal\/async_local_storage)/.test(m)) return "node: async_hooks (AsyncLocalStorage)";
    if (/^(internal\/process\/task_queues|internal\/process\/promises|internal\/timers|timers)/.test(m)) return "node: microtasks, timers, immediates";
    if (/^(events|internal\/events)/.test(m)) return "node: events";
    return "node: other";
  }
  return "other";
}

/** Now on the clock of profile timestamps (CLOCK_MONOTONIC in µs, shared by every process of the machine). */
export function profileClockUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Busy time per layer in a profile, in microseconds (idle excluded), counting only the samples
 * taken between `fromUs` and `toUs` (`profileClockUs()` values, from any process).
 */
export function layerTimes(path: string, fromUs = 0, toUs = Number.POSITIVE_INFINITY): { layers: Map<string, number>; busyUs: number } {
  const prof = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const layerCache = new Map<number, string>();
  const layerOfNode = (id: number): string => {
    const cached = layerCache.get(id);
    if (cached !== undefined) return cached;
    let cur: number | undefined = id;
    let layer: string | null = null;
    while (cur !== undefined && layer === null) {
      layer = layerOf(byId.get(cur)!.callFrame);
      cur = parent.get(cur);
    }
    const found = layer ?? "native (syscalls, libuv, V8 outside JS)";
    layerCache.set(id, found);
    return found;
  };
  const layers = new Map<string, number>();
  let busyUs = 0;
  // timeDeltas[i] is the time before sample i: charge each sample the interval that follows it.
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i]!;
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const layer = layerOfNode(prof.samples[i]!);
    if (layer === "idle") continue;
    layers.set(layer, (layers.get(layer) ?? 0) + dt);
    busyUs += dt;
  }
  return { layers, busyUs };
}

/** The main thread's profile written last in `dir` (a loader thread writes one too: `…<pid>.<tid>.…`, main is tid 0). */
export function newestMainProfile(dir: string, pid?: number): string | undefined {
  return readdirSync(dir)
    .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f) && (pid === undefined || f.includes(`.${pid}.0.`)))
    .map((f) => `${dir}/${f}`)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}
