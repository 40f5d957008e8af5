// Wake latency: the first message to a hibernated object until its reply, vs the same message to a live object.
// One Torpor echo server; samples alternate between a freshly hibernated object and a live one.
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { start } from "./lib/proc.ts";
import { SERVER_CPU } from "./lib/sides.ts";
import { diffRow, fmt, percentile } from "./lib/stats.ts";

const SAMPLES = 300;

export async function run(): Promise<PartResult> {
  const server = await start("torpor-wake", "servers/torpor.ts", { cpu: SERVER_CPU, env: { BENCH_MODE: "echo" } });
  const lg = await startLoadgen();
  try {
    const base = wsBase(server);
    // Socket i of "sleepy" goes to object w<i>, which is hibernated just before its sample; "live" sockets to l<i>.
    await lg.call("connect", { group: "sleepy", base, paths: Array.from({ length: SAMPLES }, (_, i) => `/ROOM/w${i}?u=u${i}`) });
    await lg.call("connect", { group: "live", base, paths: Array.from({ length: SAMPLES }, (_, i) => `/ROOM/l${i}?u=u${i}`) });
    // Warm both paths (JIT) on the first 20 objects, not sampled as "first".
    for (let i = 0; i < 20; i++) {
      await lg.call("ping", { group: "live", index: i });
      await server.call("hibernate", { name: `w${i}` });
      await lg.call("ping", { group: "sleepy", index: i });
    }
    const woke: number[] = [];
    const live: number[] = [];
    for (let i = 20; i < SAMPLES; i++) {
      const state = await server.call<string>("hibernate", { name: `w${i}` });
      if (state !== "hibernated") throw new Error(`w${i} did not hibernate (${state})`);
      await lg.call("ping", { group: "live", index: i }); // keeps l<i> live and warms the client path
      const order = i % 2 === 0;
      if (order) woke.push(await lg.call<number>("ping", { group: "sleepy", index: i }));
      const l = await lg.call<number>("ping", { group: "live", index: i });
      live.push(l);
      if (!order) woke.push(await lg.call<number>("ping", { group: "sleepy", index: i }));
    }
    const p = (a: number[], q: number) => percentile(a, q);
    const rows = [
      diffRow("wake: first message to a hibernated object, p50 (in-process, raw column = live object)", p(woke, 50), p(live, 50), "ms", 0.3),
      diffRow("wake: p99 (in-process, raw column = live object)", p(woke, 99), p(live, 99), "ms", null),
    ];
    const notes = [
      `- ${woke.length} wakes, ${live.length} live samples, interleaved; memory storage (no disk)`,
      `- hibernated: p50 ${fmt(p(woke, 50))} ms, p90 ${fmt(p(woke, 90))} ms, p99 ${fmt(p(woke, 99))} ms; live: p50 ${fmt(p(live, 50))} ms, p90 ${fmt(p(live, 90))} ms, p99 ${fmt(p(live, 99))} ms`,
    ];
    return { rows, notes };
  } finally {
    await lg.stop();
    await server.stop();
  }
}
