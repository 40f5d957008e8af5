// Cluster mode (`torpor start --workers 2`): what routing and moving cost.
// - stub RPC round trip (p50 of single calls, and mean) and CPU (all processes: supervisor + workers), cross-worker vs same-worker;
// - throughput: routed HTTP requests/s (a request whose Worker forwards it to an object with stub.fetch) and stub RPC
//   calls/s over many objects, with 2 workers against the same with one worker (`--workers 1`);
// - a WebSocket's per-message server CPU after it was handed to its owner vs one accepted there;
// - reload time for 1,000 and 10,000 hibernated sockets (supervisor's "Reloaded" figure), all still open after;
// - a control message (`/readyz`: one round trip to each worker) while 400 connections are handed to the workers.
// The baseline column is the same-worker / local figure measured in the same run.
// BENCH_BASE_ROOT=<checkout>: the cross-worker RPC p50, routed HTTP req/s, the 1,000-socket move and the control
// message during a burst are also measured for that checkout's `torpor start`, in the same run (an A/B).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadWs } from "./lib/deps.ts";
import { channelFloor } from "./lib/channel-floor.ts";
import { probeDuringBurst } from "./lib/control-burst.ts";
import { ipcHandleFloorMs } from "./lib/ipc-floor.ts";
import { runTimeOf } from "./lib/procfs.ts";
import { QUICK } from "./lib/product.ts";
import { scratchDir, type PartResult } from "./lib/sides.ts";
import { median, percentile, ratioRow, valueRow, type Row } from "./lib/stats.ts";

const BIN = fileURLToPath(new URL("../packages/cli/bin/torpor.js", import.meta.url));
const BASE_ROOT = process.env.BENCH_BASE_ROOT;
const BASE_BIN = BASE_ROOT === undefined ? null : join(BASE_ROOT, "packages/cli/bin/torpor.js");
const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Obj extends DurableObject {
  pid() { return process.pid; }
  ping() { return 1; }
  async loop(target, n) {
    const stub = this.env.OBJ.getByName(target);
    const t = performance.now();
    for (let i = 0; i < n; i++) await stub.ping();
    return performance.now() - t;
  }
  /** Each call timed on its own: µs, sorted. */
  async timed(target, n) {
    const stub = this.env.OBJ.getByName(target);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await stub.ping();
      out[i] = (performance.now() - t) * 1000;
    }
    return [...out.sort()];
  }
  fetch(request) {
    if (new URL(request.url).pathname.startsWith("/hello/")) return new Response("hello");
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(request.headers.get("x-via"));
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, m) {
    ws.send(m === "who" ? process.pid + " " + ws.deserializeAttachment() : m);
  }
}
export default {
  async fetch(request, env) {
    const [, kind, a, b, n] = new URL(request.url).pathname.split("/");
    if (kind === "loop") return Response.json(await env.OBJ.getByName(a).loop(b, Number(n)));
    if (kind === "timed") return Response.json(await env.OBJ.getByName(a).timed(b, Number(n)));
    // n concurrent calls, each to one of 64 objects (b: a seed), from the Worker.
    if (kind === "spray") {
      await Promise.all(Array.from({ length: Number(n) }, (_, i) => env.OBJ.getByName("s" + ((Number(b) + i) % 64)).ping()));
      return new Response("ok");
    }
    if (kind === "hello") return env.OBJ.getByName(a).fetch(new Request(request.url));
    if (kind === "pid") return Response.json(await env.OBJ.getByName(a).pid());
    const headers = new Headers(request.headers);
    headers.set("x-via", String(process.pid));
    return env.OBJ.getByName(a).fetch(new Request(request.url, { headers }));
  },
};
`;

interface Cluster {
  url: string;
  /** The admin endpoint (started with `admin: true`). */
  adminUrl: string | null;
  child: ChildProcess;
  pids(): number[];
  nextLog(message: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function startCluster(dir: string, hibernateMs: number, workers = 2, bin = BIN, admin = false): Promise<Cluster> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "worker.js"), WORKER);
  writeFileSync(
    join(dir, "wrangler.json"),
    JSON.stringify({
      main: "worker.js",
      durable_objects: { bindings: [{ name: "OBJ", class_name: "Obj" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["Obj"] }],
    }),
  );
  const child = spawn(
    process.execPath,
    [
      bin,
      "start",
      ...(admin ? ["--admin-port", "0"] : []),
      "--workers",
      String(workers),
      "--port",
      "0",
      "--persist-to",
      join(dir, "data"),
      "--hibernate-after-ms",
      String(hibernateMs),
      "--log-level",
      "info",
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "inherit"] },
  );
  const waiting: Array<{ message: string; resolve: (l: Record<string, unknown>) => void }> = [];
  const workerPids = new Set<number>();
  let buffered = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let at: number;
    while ((at = buffered.indexOf("\n")) !== -1) {
      const line = JSON.parse(buffered.slice(0, at)) as Record<string, unknown>;
      buffered = buffered.slice(at + 1);
      for (const w of [...waiting]) if (w.message === line.message) waiting.splice(waiting.indexOf(w), 1), w.resolve(line);
    }
  });
  const nextLog = (message: string) => new Promise<Record<string, unknown>>((resolve) => waiting.push({ message, resolve }));
  const adminLine = admin ? nextLog("Admin listening") : null;
  const listening = await nextLog("Listening");
  return {
    url: listening.url as string,
    adminUrl: adminLine === null ? null : ((await adminLine).url as string),
    child,
    pids: () => [child.pid!, ...workerPids],
    nextLog,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

const get = async (url: string) => (await fetch(url)).json() as Promise<number>;

/** Connections opened at once for the control-message probe (below the listen backlog of 511). */
const BURST = 400;

/** Two objects for the caller object ("caller"): one in its worker, one in the other; and the workers' pids. */
async function targets(url: string): Promise<{ same: string; cross: string; pids: number[] }> {
  const owner = new Map<string, number>();
  for (let i = 0; i < 16; i++) owner.set(`t${i}`, await get(`${url}/pid/t${i}`));
  const callerPid = await get(`${url}/pid/caller`);
  const same = [...owner].find(([, pid]) => pid === callerPid)![0];
  const cross = [...owner].find(([, pid]) => pid !== callerPid)![0];
  return { same, cross, pids: [...new Set(owner.values())] };
}

/** Requests/s of `paths()` with `concurrency` requests in flight for `ms` (keep-alive connections, so spread over the workers). */
async function throughput(base: string, concurrency: number, ms: number, path: (i: number) => string): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let i = c; performance.now() < end; i += concurrency) {
        const r = await fetch(`${base}${path(i)}`);
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${path(i)}: ${r.status}`);
        done++;
      }
    }),
  );
  return done / (ms / 1000);
}

/** Routed HTTP requests/s and RPC calls/s of one cluster (`workers` processes). */
async function rates(dir: string, workers: number, bin = BIN): Promise<{ http: number; rpc: number }> {
  const c = await startCluster(dir, 600_000, workers, bin);
  try {
    const ms = QUICK ? 3_000 : 8_000;
    // Every object exists (and each worker learned where) before the clock starts.
    await throughput(c.url, 4, 1_000, (i) => `/hello/s${i % 64}`);
    await throughput(c.url, 4, 1_000, (i) => `/spray/x/${i}/16`);
    const http = await throughput(c.url, 8, ms, (i) => `/hello/s${i % 64}`);
    const rpc = (await throughput(c.url, 4, ms, (i) => `/spray/x/${i}/16`)) * 16;
    return { http, rpc };
  } finally {
    await c.stop();
  }
}

export async function run(): Promise<PartResult> {
  const ws = await loadWs();
  const rows: Row[] = [];
  const notes: string[] = [];
  const scratch = scratchDir("cluster");
  try {
    // --- stub RPC: same worker vs cross worker ------------------------------------------
    const cluster = await startCluster(join(scratch.dir, "rpc"), 600_000);
    const { same, cross, pids: workerPids } = await targets(cluster.url);
    const pids = [cluster.child.pid!, ...workerPids];
    const cpu = () => pids.reduce((n, p) => n + runTimeOf(p), 0);
    // CPU of all processes from the scheduler's run time (ns), so a round of 500 calls reads exactly (/proc's 10 ms ticks were 20 µs per call).
    const calls = { same: QUICK ? 20_000 : 100_000, cross: QUICK ? 500 : 3_000 };
    const lat: Record<string, number[]> = { same: [], cross: [] };
    const cpuPer: Record<string, number[]> = { same: [], cross: [] };
    await get(`${cluster.url}/loop/caller/${same}/2000`);
    await get(`${cluster.url}/loop/caller/${cross}/200`);
    for (let round = 0; round < (QUICK ? 1 : 3); round++) {
      for (const [kind, target] of round % 2 === 0
        ? [
            ["same", same],
            ["cross", cross],
          ]
        : [
            ["cross", cross],
            ["same", same],
          ]) {
        const n = calls[kind as "same" | "cross"];
        const c0 = cpu();
        const ms = await get(`${cluster.url}/loop/caller/${target}/${n}`);
        lat[kind!]!.push((ms * 1000) / n);
        cpuPer[kind!]!.push((cpu() - c0) / n);
      }
    }
    // Single calls timed one by one: the p50 (the issue's target: 60 µs) and p99.
    // Beside them, each round, the floor: the same round trip between two plain processes (lib/channel-floor.ts),
    // and with BENCH_BASE_ROOT the same calls in that checkout's cluster (started now, idle until its turn).
    const single = { same: [] as number[], cross: [] as number[], floor: [] as number[], base: [] as number[] };
    const baseCluster = BASE_BIN === null ? null : await startCluster(join(scratch.dir, "rpc-base"), 600_000, 2, BASE_BIN);
    const baseTargets = baseCluster === null ? null : await targets(baseCluster.url);
    const baseCross = baseTargets?.cross ?? null;
    if (baseCluster !== null) await get(`${baseCluster.url}/loop/caller/${baseCross}/200`);
    const floorCpu: number[] = [];
    // With a base: the CPU per cross-worker call of both clusters, measured in each round beside the floor's.
    const abCpu = { mine: [] as number[], base: [] as number[] };
    const loopCpu = async (url: string, target: string, of: number[]) => {
      const sum = () => of.reduce((n, p) => n + runTimeOf(p), 0);
      const c0 = sum();
      await get(`${url}/loop/caller/${target}/${calls.cross}`);
      return (sum() - c0) / calls.cross;
    };
    // An A/B takes three rounds even when quick, each side first in turn (the load here drifts within a minute).
    for (let round = 0; round < (QUICK && baseCluster === null ? 1 : 3); round++) {
      const n = QUICK ? 500 : 2_000;
      const mine = async () => single.cross.push(...((await (await fetch(`${cluster.url}/timed/caller/${cross}/${n}`)).json()) as number[]));
      const theirs = async () => {
        if (baseCluster !== null) single.base.push(...((await (await fetch(`${baseCluster.url}/timed/caller/${baseCross}/${n}`)).json()) as number[]));
      };
      if (round % 2 === 0) await mine().then(theirs);
      else await theirs().then(mine);
      if (baseCluster !== null) {
        const basePids = [baseCluster.child.pid!, ...baseTargets!.pids];
        const sides = [
          () => loopCpu(cluster.url, cross, pids).then((v) => abCpu.mine.push(v)),
          () => loopCpu(baseCluster.url, baseCross!, basePids).then((v) => abCpu.base.push(v)),
        ];
        for (const side of round % 2 === 0 ? sides : sides.reverse()) await side();
      }
      single.same.push(...((await (await fetch(`${cluster.url}/timed/caller/${same}/${n}`)).json()) as number[]));
      const floor = await channelFloor(n, runTimeOf);
      single.floor.push(...floor.us);
      floorCpu.push(floor.cpuUs);
    }
    await baseCluster?.stop();
    if (baseCluster !== null)
      rows.push(
        ratioRow(
          `cluster: stub RPC round trip p50, cross-worker, this checkout (baseline: ${BASE_ROOT}, same run)`,
          { raw: percentile(single.base, 50), torpor: percentile(single.cross, 50) },
          "µs",
          null,
        ),
      );
    if (baseCluster !== null)
      rows.push(
        ratioRow(
          `cluster: CPU per stub RPC, all processes, cross-worker, this checkout (baseline: ${BASE_ROOT}, same run)`,
          { raw: median(abCpu.base), torpor: median(abCpu.mine) },
          "µs",
          null,
        ),
      );
    rows.push(
      ratioRow(
        "cluster: stub RPC round trip p50, cross-worker (baseline: same worker)",
        { raw: percentile(single.same, 50), torpor: percentile(single.cross, 50) },
        "µs",
        null,
      ),
    );
    rows.push(
      ratioRow(
        "cluster: stub RPC round trip p50, cross-worker (baseline: one frame each way between two plain processes)",
        { raw: percentile(single.floor, 50), torpor: percentile(single.cross, 50) },
        "µs",
        null,
      ),
    );
    rows.push(
      ratioRow(
        "cluster: stub RPC round trip p99, cross-worker (baseline: same worker)",
        { raw: percentile(single.same, 99), torpor: percentile(single.cross, 99) },
        "µs",
        null,
      ),
    );
    rows.push(
      ratioRow("cluster: stub RPC round trip mean, cross-worker (baseline: same worker)", { raw: median(lat.same!), torpor: median(lat.cross!) }, "µs", null),
    );
    rows.push(
      ratioRow(
        "cluster: CPU per stub RPC, all processes, cross-worker (baseline: same worker)",
        { raw: median(cpuPer.same!), torpor: median(cpuPer.cross!) },
        "µs",
        null,
      ),
    );
    rows.push(
      ratioRow(
        "cluster: CPU per stub RPC, all processes, cross-worker (baseline: the floor's CPU per round trip, both processes)",
        { raw: median(floorCpu), torpor: median(baseCluster !== null ? [...cpuPer.cross!, ...abCpu.mine] : cpuPer.cross!) },
        "µs",
        null,
      ),
    );
    notes.push(
      `stub RPC timed one by one: p50 same worker ${percentile(single.same, 50).toFixed(1)} µs, cross-worker ${percentile(single.cross, 50).toFixed(1)} µs, floor (a frame each way between two plain processes) ${percentile(single.floor, 50).toFixed(1)} µs; p99 ${percentile(single.same, 99).toFixed(1)} / ${percentile(single.cross, 99).toFixed(1)} / ${percentile(single.floor, 99).toFixed(1)} µs; floor CPU µs per round trip ${floorCpu.map((v) => v.toFixed(1)).join(", ")}${baseCluster !== null ? `; CPU µs per cross-worker call, rounds beside the floor's: this checkout ${abCpu.mine.map((v) => v.toFixed(1)).join(", ")}, base ${abCpu.base.map((v) => v.toFixed(1)).join(", ")}` : ""}; load average ${loadavg()
        .map((v) => v.toFixed(1))
        .join(" ")}`,
    );
    notes.push(
      `stub RPC, ${calls.same} (same worker) and ${calls.cross} (cross-worker) sequential calls per round: same-worker µs ${lat.same!.map((v) => v.toFixed(1)).join(", ")}; cross-worker µs ${lat.cross!.map((v) => v.toFixed(1)).join(", ")}; CPU µs/call same ${cpuPer.same!.map((v) => v.toFixed(1)).join(", ")}, cross ${cpuPer.cross!.map((v) => v.toFixed(1)).join(", ")}`,
    );

    // --- WebSocket per-message cost: handed over vs accepted by the owner -------------------
    const open = (name: string) =>
      new Promise<{ sock: InstanceType<typeof ws.WebSocket>; pid: number; via: number }>((resolve, reject) => {
        const sock = new ws.WebSocket(`${cluster.url.replace("http", "ws")}/ws/${name}`);
        sock.once("error", reject);
        sock.once("open", () => sock.send("who"));
        sock.once("message", (d) => {
          const [pid, via] = d.toString().split(" ").map(Number);
          resolve({ sock, pid: pid!, via: via! });
        });
      });
    let local: Awaited<ReturnType<typeof open>> | null = null;
    let handed: Awaited<ReturnType<typeof open>> | null = null;
    for (let i = 0; i < 8 && (local === null || handed === null); i++) {
      const s = await open("echo");
      if (s.pid === s.via) local ??= s;
      else handed ??= s;
    }
    const echo = (sock: InstanceType<typeof ws.WebSocket>, count: number) =>
      new Promise<void>((resolve) => {
        let left = count;
        const onMessage = () => {
          if (--left === 0) {
            sock.off("message", onMessage);
            resolve();
          } else sock.send("x".repeat(64));
        };
        sock.on("message", onMessage);
        sock.send("x".repeat(64));
      });
    const m = QUICK ? 2_000 : 10_000;
    const wsCpu: Record<string, number[]> = { local: [], handed: [] };
    await echo(local!.sock, 500);
    await echo(handed!.sock, 500);
    for (let round = 0; round < (QUICK ? 1 : 5); round++) {
      for (const [kind, s] of round % 2 === 0
        ? ([
            ["local", local],
            ["handed", handed],
          ] as const)
        : ([
            ["handed", handed],
            ["local", local],
          ] as const)) {
        const c0 = cpu();
        await echo(s!.sock, m);
        wsCpu[kind]!.push((cpu() - c0) / m);
      }
    }
    rows.push(
      ratioRow(
        "cluster: server CPU per WebSocket echo, socket handed to its owner (baseline: accepted by the owner)",
        { raw: median(wsCpu.local!), torpor: median(wsCpu.handed!) },
        "µs",
        { max: 1.1 },
      ),
    );
    notes.push(
      `WebSocket echo, ${m} messages per round, CPU µs/message of all cluster processes: accepted by the owner ${wsCpu.local!.map((v) => v.toFixed(1)).join(", ")}; handed over ${wsCpu.handed!.map((v) => v.toFixed(1)).join(", ")}`,
    );
    local!.sock.terminate();
    handed!.sock.terminate();
    await cluster.stop();

    // --- throughput: 2 workers against 1 ---------------------------------------------------
    const one = await rates(join(scratch.dir, "rates-1"), 1);
    const two = await rates(join(scratch.dir, "rates-2"), 2);
    rows.push(ratioRow("cluster: routed HTTP requests/s (stub.fetch), 2 workers (baseline: 1 worker)", { raw: one.http, torpor: two.http }, "req/s", null));
    rows.push(ratioRow("cluster: stub RPC calls/s over 64 objects, 2 workers (baseline: 1 worker)", { raw: one.rpc, torpor: two.rpc }, "calls/s", null));
    notes.push(
      `throughput: HTTP forwarded to 64 objects with stub.fetch, 8 clients: ${one.http.toFixed(0)} req/s with 1 worker, ${two.http.toFixed(0)} with 2; RPC, 16 concurrent calls per request over 64 objects, 4 clients: ${one.rpc.toFixed(0)} calls/s with 1 worker, ${two.rpc.toFixed(0)} with 2 (on 2 cores shared with the client)`,
    );
    if (BASE_BIN !== null) {
      // Alternated with this checkout's (base, mine, base): a drift of the machine's load shows, and averages out.
      const base1 = await rates(join(scratch.dir, "rates-base"), 2, BASE_BIN);
      const again = await rates(join(scratch.dir, "rates-2b"), 2);
      const base2 = await rates(join(scratch.dir, "rates-base-2"), 2, BASE_BIN);
      const base = { http: (base1.http + base2.http) / 2, rpc: (base1.rpc + base2.rpc) / 2 };
      const mine = { http: (two.http + again.http) / 2, rpc: (two.rpc + again.rpc) / 2 };
      for (const [what, rate, unit] of [
        ["routed HTTP requests/s", "http", "req/s"],
        ["stub RPC calls/s", "rpc", "calls/s"],
      ] as const) {
        rows.push(
          ratioRow(`cluster: ${what}, 2 workers, this checkout (baseline: ${BASE_ROOT}, same run)`, { raw: base[rate], torpor: mine[rate] }, unit, null),
        );
      }
      notes.push(
        `throughput A/B, 2 workers, in the order mine, base, mine, base: ${two.http.toFixed(0)}, ${base1.http.toFixed(0)}, ${again.http.toFixed(0)}, ${base2.http.toFixed(0)} req/s; RPC ${two.rpc.toFixed(0)}, ${base1.rpc.toFixed(0)}, ${again.rpc.toFixed(0)}, ${base2.rpc.toFixed(0)} calls/s; load average ${loadavg()
          .map((v) => v.toFixed(1))
          .join(" ")}`,
      );
    }

    // --- a control message while connections are handed over ------------------------------
    const probes: Record<"torpor" | "base", Array<Awaited<ReturnType<typeof probeDuringBurst>>>> = { torpor: [], base: [] };
    for (let round = 0; round < (QUICK ? 2 : 4); round++) {
      for (const side of BASE_BIN === null ? (["torpor"] as const) : round % 2 === 0 ? (["torpor", "base"] as const) : (["base", "torpor"] as const)) {
        const c = await startCluster(join(scratch.dir, `burst-${side}-${round}`), 600_000, 2, side === "base" ? BASE_BIN! : BIN, true);
        try {
          await throughput(c.url, 4, 500, (i) => `/hello/s${i % 64}`);
          probes[side].push(await probeDuringBurst(c.url, c.adminUrl!, BURST, (i) => `/hello/s${i % 64}`));
        } finally {
          await c.stop();
        }
      }
    }
    const probeMs = (side: "torpor" | "base") => median(probes[side].map((p) => p.ms));
    if (BASE_BIN === null)
      rows.push(valueRow(`cluster: /readyz (a control round trip to each worker) while ${BURST} connections are handed over, median`, probeMs("torpor"), "ms"));
    else
      rows.push(
        ratioRow(
          `cluster: /readyz (a control round trip to each worker) while ${BURST} connections are handed over, this checkout (baseline: ${BASE_ROOT}, same run)`,
          { raw: probeMs("base"), torpor: probeMs("torpor") },
          "ms",
          null,
        ),
      );
    const describe = (side: "torpor" | "base") =>
      probes[side]
        .map((p) => `${p.ms.toFixed(0)} ms (status ${p.status}, ${p.answeredBefore}/${BURST} answered before it, burst ${p.burstMs.toFixed(0)} ms)`)
        .join("; ");
    notes.push(
      `/readyz during a burst of ${BURST} routed requests, each on its own connection: this checkout ${describe("torpor")}${BASE_BIN === null ? "" : `; base ${describe("base")}`}; load average ${loadavg()
        .map((v) => v.toFixed(1))
        .join(" ")}`,
    );

    // --- reload time with hibernated sockets ------------------------------------------------
    for (const sockets of QUICK ? [1_000] : [1_000, 10_000]) {
      const { line, answered, closes } = await reloadOnce(ws, join(scratch.dir, `reload-${sockets}`), sockets, BIN);
      rows.push(
        valueRow(
          `cluster: reload with ${sockets.toLocaleString("en-US")} hibernated sockets, total (new workers start, then the move)`,
          line.ms as number,
          "ms",
        ),
      );
      rows.push(valueRow(`cluster: reload with ${sockets.toLocaleString("en-US")} hibernated sockets, the move alone`, line.moveMs as number, "ms"));
      // The floor under the move, measured right after it: the same number of descriptors over Node's IPC, two hops.
      const floorMs = await ipcHandleFloorMs(sockets);
      rows.push(
        ratioRow(
          `cluster: reload's move of ${sockets.toLocaleString("en-US")} hibernated sockets (baseline: the same descriptors over Node IPC, two hops, nothing else done)`,
          { raw: floorMs, torpor: line.moveMs as number },
          "ms",
          null,
        ),
      );
      notes.push(
        `reload, ${sockets} sockets over 100 objects: ${line.ms} ms in all, ${line.moveMs} ms moving (Node IPC floor for as many descriptors over two hops, same run: ${floorMs.toFixed(0)} ms) (${line.socketsMoved} moved, ${line.socketsClosed} closed by the move: a socket whose output did not drain within half the move timeout); ${answered} answered afterwards, ${closes} closed`,
      );
      if (BASE_BIN !== null && sockets === 1_000) {
        const base = await reloadOnce(ws, join(scratch.dir, `reload-base-${sockets}`), sockets, BASE_BIN);
        rows.push(
          ratioRow(
            `cluster: reload's move of ${sockets.toLocaleString("en-US")} hibernated sockets, this checkout (baseline: ${BASE_ROOT}, same run)`,
            { raw: base.line.moveMs as number, torpor: line.moveMs as number },
            "ms",
            null,
          ),
        );
        notes.push(
          `reload A/B, ${sockets} sockets: base ${base.line.ms} ms in all, ${base.line.moveMs} ms moving (${base.line.socketsMoved} moved, ${base.line.socketsClosed} closed); ${base.answered} answered afterwards, ${base.closes} closed; load average ${loadavg()
            .map((v) => v.toFixed(1))
            .join(" ")}`,
        );
      }
    }
  } finally {
    scratch.cleanup();
  }
  return { rows, notes };
}

/** One reload of a cluster (`bin`) holding `sockets` hibernated WebSockets: the supervisor's "Reloaded" line, and how many answered after. */
export async function reloadOnce(
  ws: Awaited<ReturnType<typeof loadWs>>,
  dir: string,
  sockets: number,
  bin: string,
): Promise<{ line: Record<string, unknown>; answered: number; closes: number }> {
  const c = await startCluster(dir, 200, 2, bin);
  const clients: Array<InstanceType<typeof ws.WebSocket>> = [];
  let closes = 0;
  const batch = 200;
  for (let i = 0; i < sockets; i += batch) {
    await Promise.all(
      Array.from(
        { length: Math.min(batch, sockets - i) },
        (_, j) =>
          new Promise<void>((resolve, reject) => {
            const sock = new ws.WebSocket(`${c.url.replace("http", "ws")}/ws/room${(i + j) % 100}`);
            sock.once("open", () => resolve());
            sock.once("error", reject);
            sock.once("close", () => closes++);
            clients.push(sock);
          }),
      ),
    );
  }
  // Idle past --hibernate-after-ms so every object is hibernated when the reload starts.
  await new Promise((r) => setTimeout(r, 1_000));
  const reloaded = c.nextLog("Reloaded");
  c.child.kill("SIGHUP");
  const line = await reloaded;
  // Every socket still open answers after the move (served by the new workers); one the move closed is counted.
  let answered = 0;
  await Promise.all(
    clients.map(
      (sock) =>
        new Promise<void>((resolve) => {
          if (sock.readyState !== ws.WebSocket.OPEN) return resolve();
          const timer = setTimeout(resolve, 120_000);
          sock.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          sock.once("message", () => {
            clearTimeout(timer);
            answered++;
            resolve();
          });
          sock.send("who");
        }),
    ),
  );
  // Closes counted before the clients' own terminate below.
  const closedBefore = closes;
  for (const sock of clients) sock.terminate();
  await c.stop();
  return { line, answered, closes: closedBefore };
}
