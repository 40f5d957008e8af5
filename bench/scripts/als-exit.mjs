// CPU per call of the ways to step out of an AsyncLocalStorage context, from inside one: `exit(fn)`
// (which on Node 20, and 22+ without AsyncContextFrame, disables the storage for the call: with no
// other storage in the process, Node's async hook and V8's promise hooks go off and on again) against
// `run(undefined, fn)` (the same context for fn: no store), beside a plain `run` and `Date.now()` for
// scale. What `outsideOwners` (packages/core/src/owner-context.ts) uses; an experiment behind
// bench/RESULTS.md ("outsideOwners"), not a bench part. Usage: node bench/scripts/als-exit.mjs [calls]
import { AsyncLocalStorage } from "node:async_hooks";
import { loadavg } from "node:os";

const calls = Number(process.argv[2] ?? 200_000);
const storage = new AsyncLocalStorage();
const owner = {};
let n = 0;
const fn = () => {
  n++;
};

/** CPU ns per call of `body` run `calls` times (user + system, this thread's process). */
function cpuNs(body) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) body();
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / calls;
}

storage.run(owner, () => {
  for (let round = 0; round < 5; round++) {
    const exit = cpuNs(() => storage.exit(fn));
    const runUndefined = cpuNs(() => storage.run(undefined, fn));
    const runOther = cpuNs(() => storage.run({}, fn));
    const now = cpuNs(() => Date.now());
    console.log(
      `round ${round}: ns of CPU per call: exit ${exit.toFixed(0)}, run(undefined) ${runUndefined.toFixed(0)}, run(new store) ${runOther.toFixed(0)}, Date.now ${now.toFixed(0)}`,
    );
  }
});
const load = loadavg().map((x) => x.toFixed(2));
console.log(`load average ${load.join(" ")}; ${process.version}; ${n} calls`);
