// A/B of environments (and Node/V8 flags) for `torpor start` as built, under a flood of N connections
// (each to its own object) that all close: RSS per process before and 30 s after, smaps, a closed-loop
// echo's CPU, and (TRIM=1) what malloc_trim(0), called through gdb, would give back. An experiment
// behind bench/RESULTS.md ("Where the kept memory is"), not a bench part. Run it under the bench lock.
// Usage: FLOOD_AB_ROOT=<built checkout> node bench/scripts/flood-ab.mjs N "" "ENV=a ENV2=b" "--v8-flag" "ROOT=<other built checkout>" ...
// FLOOD_ROUNDS=R floods each variant R times, rotating the order, and prints the CPU of the supervisor and of
// the workers over each flood's connect + close and over the settle after it; TORPOR_ARGS adds arguments to
// `torpor start` (with "--log-level debug", the supervisor's own idle collections are printed, timed from
// the end of each flood).
import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { breakdown } from "./smaps.mjs";
const require = createRequire(new URL("../../packages/core/package.json", import.meta.url));
const { WebSocket } = require("ws");
const root = process.env.FLOOD_AB_ROOT ?? new URL("../../", import.meta.url).pathname;
const N = Number(process.argv[2]);
const variants = process.argv.slice(3);
const SETTLE = Number(process.env.SETTLE_MS ?? 30000);
const MiB = (b) => +(b / 1048576).toFixed(1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function rss(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
}
function children(pid) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(d));
    } catch {}
  }
  return out;
}
function cpu(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
async function startServer(envText) {
  const env = { ...process.env, NODE_OPTIONS: `--import=${new URL("./heap-probe.mjs", import.meta.url).pathname}` };
  const flags = [];
  let cwd = root;
  for (const kv of envText.split(" ").filter(Boolean)) {
    if (kv.startsWith("ROOT=")) {
      cwd = kv.slice(5);
      continue;
    }
    if (kv.startsWith("--")) {
      flags.push(kv);
      continue;
    }
    const i = kv.indexOf("=");
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const dir = mkdtempSync("/tmp/m3-ab-");
  const child = spawn(
    process.execPath,
    [
      ...flags,
      "bench/servers/torpor-dist.mjs",
      "start",
      "--config",
      "bench/project/wrangler.jsonc",
      "--port",
      "0",
      "--persist-to",
      dir,
      "--admin-port",
      "0",
      "--var",
      "MODE:echo",
      ...(process.env.WORKERS ? ["--workers", process.env.WORKERS] : []),
      ...(process.env.TORPOR_ARGS ?? "").split(" ").filter(Boolean),
    ],
    { cwd, env, stdio: ["ignore", "pipe", "inherit"] },
  );
  const idle = [];
  const url = await new Promise((resolve) =>
    createInterface({ input: child.stdout }).on("line", (l) => {
      try {
        const e = JSON.parse(l);
        if (e.message === "Listening") resolve(e.url);
        if (e.message === "Idle: collected garbage" && e.pid === child.pid) idle.push({ at: Date.now(), ...e });
      } catch {}
    }),
  );
  return { child, url: url.replace("http", "ws"), envText, idle, pids: () => [child.pid, ...children(child.pid)] };
}
async function flood(s, prefix, n) {
  const open = [];
  let i = 0;
  async function one() {
    while (i < n) {
      const k = i++;
      const ws = new WebSocket(`${s.url}/ROOM/${prefix}${k}?u=u${k}`);
      await new Promise((res, rej) => {
        ws.once("open", res);
        ws.once("error", rej);
      });
      open.push(ws);
    }
  }
  await Promise.all(Array.from({ length: 50 }, one));
  await Promise.all(
    open.map(
      (ws) =>
        new Promise((r) => {
          ws.once("close", r);
          ws.close();
        }),
    ),
  );
}
const servers = [];
for (const v of variants) servers.push(await startServer(v));
await flood(servers[0], "warm", 1); // noop-ish
for (const s of servers) await flood(s, "warm", 200);
await sleep(SETTLE);
const base = servers.map((s) => s.pids().map((p) => [p, rss(p)]));
// Each variant: its flood, then SETTLE ms, then its RSS (the same time after its own flood for every variant);
// with FLOOD_ROUNDS > 1, again in a rotated order. The settled RSS is the first round's.
const ROUNDS_FLOOD = Number(process.env.FLOOD_ROUNDS ?? 1);
const t = {},
  cpuFlood = {},
  settled = {},
  rounds = servers.map(() => []);
// CPU (ms) of the supervisor and of its workers together.
const cpuSplit = (s) => {
  const [sup, ...workers] = s.pids();
  return { sup: cpu(sup), workers: workers.reduce((a, p) => a + cpu(p), 0) };
};
for (let r = 0; r < ROUNDS_FLOOD; r++) {
  const order = [...servers.keys()].map((j) => (j + r) % servers.length);
  if (process.env.REVERSE) order.reverse();
  for (const k of order) {
    const s = servers[k];
    const c0 = cpuSplit(s);
    const t0 = Date.now();
    await flood(s, `flood${r}-`, N);
    const t1 = Date.now();
    const c1 = cpuSplit(s);
    await sleep(SETTLE);
    const c2 = cpuSplit(s);
    rounds[k].push({
      ms: t1 - t0,
      flood: { sup: c1.sup - c0.sup, workers: c1.workers - c0.workers },
      settle: { sup: c2.sup - c1.sup, workers: c2.workers - c1.workers },
      idle: s.idle
        .filter((e) => e.at > t1 && e.at <= Date.now())
        .map((e) => `+${((e.at - t1) / 1000).toFixed(1)} s young ${e.youngCommittedMiB} (${e.cpuMs} ms)`),
    });
    if (r === 0) {
      t[k] = t1 - t0;
      cpuFlood[k] = c2.sup + c2.workers - c0.sup - c0.workers;
      settled[k] = s.pids().map((p) => [p, rss(p)]);
    }
  }
}
for (const [k, s] of servers.entries()) {
  for (const [r, x] of rounds[k].entries()) {
    console.log(
      `round ${r} "${s.envText}": flood ${x.ms} ms; CPU ms over connect + close: workers ${x.flood.workers}, supervisor ${x.flood.sup}; over the ${SETTLE / 1000} s after: workers ${x.settle.workers}, supervisor ${x.settle.sup}; supervisor idle collections: ${x.idle.join(", ") || "none"}`,
    );
  }
}
servers.forEach((s, k) => {
  const after = settled[k];
  const b = base[k].reduce((a, [, r]) => a + r, 0),
    a = after.reduce((x, [, r]) => x + r, 0);
  console.log(
    `variant "${s.envText}": flood ${t[k]} ms, server CPU during flood+settle ${cpuFlood[k]} ms; base ${MiB(b)} MiB -> settled ${MiB(a)} (kept ${MiB(a - b)}, ${(a / b).toFixed(3)}x); per process base/settled: ${base[k].map(([p, r]) => `${MiB(r)}/${MiB(after.find(([q]) => q === p)?.[1] ?? NaN)}`).join(" ")}`,
  );
  for (const [p] of after) console.log("   ", p, JSON.stringify(breakdown(p)));
});
// Diagnostic (not a product path): what glibc would give back if malloc_trim(0) ran in each process now.
if (process.env.TRIM === "1")
  for (const s of servers) {
    const before = s.pids().map((p) => [p, rss(p)]);
    for (const [p] of before) execFileSync("gdb", ["-p", String(p), "-batch", "-ex", "call (int) malloc_trim(0)"], { stdio: "ignore" });
    console.log(
      `malloc_trim "${s.envText}": ${before.map(([p, r]) => `${MiB(r)} -> ${MiB(rss(p))}`).join(", ")} MiB (sum ${MiB(before.reduce((a, [, r]) => a + r, 0))} -> ${MiB(before.reduce((a, [p]) => a + rss(p), 0))})`,
    );
  }
// CPU cost: closed-loop echo over C sockets (each its own object), M messages each; rounds rotate the variants.
const C = Number(process.env.ECHO_CONNS ?? 100),
  M = Number(process.env.ECHO_MSGS ?? 200),
  ROUNDS = Number(process.env.ECHO_ROUNDS ?? 2);
const echo = servers.map(() => ({ ms: [], cpu: [] }));
for (let r = 0; r < ROUNDS; r++) {
  for (let j = 0; j < servers.length; j++) {
    const k = (j + r) % servers.length;
    const s = servers[k];
    const socks = [];
    for (let c = 0; c < C; c++) {
      const ws = new WebSocket(`${s.url}/ROOM/echo${r}-${c}?u=e${c}`);
      await new Promise((res, rej) => {
        ws.once("open", res);
        ws.once("error", rej);
      });
      socks.push(ws);
    }
    const c0 = s.pids().reduce((a, p) => a + cpu(p), 0);
    const t0 = Date.now();
    await Promise.all(
      socks.map(
        (ws) =>
          new Promise((res) => {
            let n = 0;
            ws.on("message", () => {
              if (++n === M) res();
              else ws.send(`hello ${n}`);
            });
            ws.send("hello 0");
          }),
      ),
    );
    echo[k].ms.push(Date.now() - t0);
    echo[k].cpu.push(s.pids().reduce((a, p) => a + cpu(p), 0) - c0);
    await Promise.all(
      socks.map(
        (ws) =>
          new Promise((res) => {
            ws.once("close", res);
            ws.close();
          }),
      ),
    );
  }
}
servers.forEach((s, k) => {
  console.log(
    `echo "${s.envText}": ${C}x${M} msgs, wall ms ${echo[k].ms.join(" / ")} (${echo[k].ms.map((m) => Math.round((C * M) / (m / 1000))).join(" / ")} msg/s), server CPU ms ${echo[k].cpu.join(" / ")} (${echo[k].cpu.map((c) => ((c * 1000) / (C * M)).toFixed(1)).join(" / ")} us/msg)`,
  );
});
for (const s of servers) s.child.kill("SIGTERM");
await sleep(3000);
process.exit(0);
