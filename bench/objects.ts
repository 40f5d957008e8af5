// One object per user: every connection goes to its own object.
// - open rate: connections opened per second, each to a new object (rounds rotate the sides);
// - idle memory and file descriptors per hibernated one-socket object, at 4,000 and 18,000;
// - objects visited once by a read-only HTTP request (no socket), then hibernated: memory per
//   object and the files left on disk (none should be: storage is created on the first write).
import { readdirSync } from "node:fs";
import { execSync } from "node:child_process";
import { loadavg } from "node:os";
import { QUICK, WITH_WORKERD, rotate, startProduct, waitHibernated, type Side } from "./lib/product.ts";
import { rssOf } from "./lib/procfs.ts";
import { startLoadgen, wsBase, type PartResult } from "./lib/sides.ts";
import { fmt, median, ratioRow, valueRow, type Row } from "./lib/stats.ts";
import { connectSpread, idleStats, startLoadgens, type Stats } from "./rooms.ts";

/** BENCH_OPEN_ROUNDS: more rounds of the open rate (each side opens OPEN_PER_ROUND per round). */
const OPEN_ROUNDS = Number(process.env.BENCH_OPEN_ROUNDS ?? (QUICK ? 1 : 3));
const OPEN_PER_ROUND = QUICK ? 500 : 1_000;
const STEPS = QUICK ? [2_000] : [4_000, 18_000];
const WARM = 100;
const VISITS = QUICK ? 500 : 2_000;
const FD_CAP = Number(execSync("sh -c 'ulimit -Hn'").toString().trim()) || 20_000;

/** BENCH_OBJECTS=defaults: only the headline figure at the defaults (4,000 objects in a full run), not the flagged parts before it. */
const DEFAULTS_ONLY = process.env.BENCH_OBJECTS === "defaults";
/** BENCH_OBJECTS=open: only the open rate (with the load average in the notes). */
const OPEN_ONLY = process.env.BENCH_OBJECTS === "open";

export async function run(): Promise<PartResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  if (DEFAULTS_ONLY) {
    await atDefaults(rows, notes);
    return { rows, notes };
  }
  const product = await startProduct("objects", "idle", { hibernateMs: 500, nodeFlags: ["--max-semi-space-size=1"] });
  try {
    // ---- open rate -----------------------------------------------------------------------
    const lg = await startLoadgen();
    try {
      let seq = 0;
      // Warm-up (JIT) of each side's handshake path on objects not counted.
      for (const side of product.names) {
        await lg.call("connect", {
          group: `warm-${side}`,
          base: wsBase(product.sides[side]!),
          paths: Array.from({ length: 300 }, (_, i) => `/ROOM/warmnew${i}?u=w${i}`),
        });
        await lg.call("close", { group: `warm-${side}` });
      }
      const rates = await rotate(product.names, OPEN_ROUNDS, async (side) => {
        const paths = Array.from({ length: OPEN_PER_ROUND }, () => `/ROOM/new${seq++}?u=u${seq}`);
        const t0 = performance.now();
        await lg.call("connect", { group: `open-${side}`, base: wsBase(product.sides[side]!), paths });
        const rate = OPEN_PER_ROUND / ((performance.now() - t0) / 1000);
        await lg.call("close", { group: `open-${side}` });
        return rate;
      });
      const m = (s: Side) => (rates[s] === undefined ? undefined : median(rates[s]!));
      rows.push(
        ratioRow(
          `connections opened per s, each to a new object (${OPEN_PER_ROUND} per round)`,
          { raw: m("raw"), workerd: m("workerd"), torpor: m("torpor")! },
          "conn/s",
          { min: 0.8 },
        ),
      );
      notes.push(`- open rate (conn/s per round): ${product.names.map((s) => `${s} ${rates[s]!.map((r) => fmt(r)).join(", ")}`).join("; ")}`);
      if (rates.base !== undefined) {
        const perRound = rates.torpor!.map((r, i) => r / rates.base![i]!);
        notes.push(`- torpor ÷ base per round: ${perRound.map((r) => r.toFixed(2)).join(" ")}; median ${median(perRound).toFixed(2)}×`);
      }
      notes.push(
        `- load average after the open rounds: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
      );
    } finally {
      await lg.stop();
    }
    if (OPEN_ONLY) return { rows, notes };

    // ---- hibernated one-socket objects ---------------------------------------------------
    const lgs = await startLoadgens();
    const per: Partial<Record<Side, Array<{ rss: number; heap: number; fds: number; base: Stats }>>> = {};
    try {
      for (const side of product.names) {
        const server = product.sides[side]!;
        const base = wsBase(server);
        await connectSpread(
          lgs,
          side,
          base,
          Array.from({ length: WARM }, (_, i) => `/ROOM/warm-o${i}?u=w${i}`),
        );
        // The open-rate rounds' objects may still be closing: wait until only the warm sockets remain.
        const zero = await idleStats(side, server, WARM);
        per[side] = [];
        let held = 0;
        const line: string[] = [`base RSS ${fmt(zero.rss / 2 ** 20)} MiB, ${zero.fds} fds`];
        for (const n of STEPS) {
          if (side === "workerd" && n > 4_000) break; // ~100 kB per object: 18k would need ~2 GB and minutes
          await connectSpread(
            lgs,
            side,
            base,
            Array.from({ length: n - held }, (_, j) => `/ROOM/obj${held + j}?u=u${held + j}`),
          );
          held = n;
          const s = await idleStats(side, server, WARM + n);
          per[side]!.push({ rss: (s.rss - zero.rss) / n, heap: (s.heapUsed - zero.heapUsed) / n, fds: (s.fds - zero.fds) / n, base: zero });
          line.push(
            `${n} objects: RSS ${fmt(s.rss / 2 ** 20)} MiB (${fmt((s.rss - zero.rss) / n)} B/object), heap ${fmt((s.heapUsed - zero.heapUsed) / n)} B/object used, ${fmt((s.heapTotal - zero.heapTotal) / n)} committed, external ${fmt(((s as Stats & { external: number }).external - (zero as Stats & { external: number }).external) / n)}, ${s.fds} fds (${fmt((s.fds - zero.fds) / n)} per object)`,
          );
        }
        notes.push(`- one-socket objects ${side}: ${line.join("; ")}`);
        await Promise.all(lgs.map((l) => l.call("close", { group: side })));
      }
    } finally {
      await Promise.all(lgs.map((l) => l.stop()));
    }
    STEPS.forEach((n, i) => {
      const f = (s: Side) => per[s]?.[i]?.rss;
      rows.push(
        ratioRow(
          `bytes per idle conn, ${n.toLocaleString("en-US")} conns each to its own object (RSS)`,
          { raw: f("raw"), workerd: f("workerd"), torpor: f("torpor")! },
          "B",
          { max: 1.5 },
        ),
      );
    });
    const t = per.torpor![0]!;
    rows.push(
      ratioRow(
        `JS heap per hibernated object with 1 socket (${STEPS[0]!.toLocaleString("en-US")} objects)`,
        { raw: per.raw?.[0]?.heap, torpor: t.heap },
        "B",
        null,
      ),
    );
    rows.push(ratioRow("file descriptors per hibernated one-socket object", { raw: per.raw?.[0]?.fds, torpor: t.fds }, "fd", { max: 1.0 }));
    const capacity = (s: Side) => (per[s] === undefined ? undefined : Math.floor((FD_CAP - per[s]![0]!.base.fds) / per[s]![0]!.fds));
    rows.push(
      ratioRow(
        `one-socket objects one process holds within the ${FD_CAP.toLocaleString("en-US")} fd cap`,
        { raw: capacity("raw"), torpor: capacity("torpor")! },
        "objects",
        { min: 0.95 },
      ),
    );

    // ---- objects with no socket: read-only visits --------------------------------------------
    const torpor = product.sides.torpor!;
    const vlg = await startLoadgen("loadgen-visit");
    try {
      const zero = await idleStats("torpor", torpor, 0);
      await vlg.call("visit", { base: `http://127.0.0.1:${torpor.info.port as number}`, paths: Array.from({ length: VISITS }, (_, i) => `/visit/v${i}`) });
      const s = await idleStats("torpor", torpor, 0);
      const files = countFiles(`${product.dir}/torpor`);
      rows.push(valueRow(`RSS per hibernated object with 0 sockets (${VISITS.toLocaleString("en-US")} read-only visits)`, (s.rss - zero.rss) / VISITS, "B"));
      rows.push(valueRow("JS heap per hibernated object with 0 sockets", (s.heapUsed - zero.heapUsed) / VISITS, "B"));
      rows.push(valueRow(`files left by ${VISITS.toLocaleString("en-US")} read-only visits`, files.db + files.wal, "files", { max: 0 }));
      rows.push(valueRow("extra fds held after the visits (all hibernated)", s.fds - zero.fds, "fd", { max: 0 }));
      notes.push(
        `- ${VISITS} read-only visits (torpor): RSS ${fmt((s.rss - zero.rss) / 2 ** 20)} MiB more, heap ${fmt((s.heapUsed - zero.heapUsed) / 2 ** 20)} MiB more, fds ${zero.fds} → ${s.fds}, ${files.db} .sqlite and ${files.wal} -wal files in the data directory`,
      );
    } finally {
      await vlg.stop();
    }
    if (!WITH_WORKERD) notes.push("- workerd not measured (quick mode or BENCH_WORKERD=0)");
  } finally {
    await product.stop();
  }
  await atDefaults(rows, notes);
  return { rows, notes };
}

/** Idle times after which RSS is read at the defaults: TARGETS.md's 15 s, and issue 27's 30 s. */
const IDLE_MS = [15_000, 30_000];

/**
 * The headline memory figure at the shipped defaults: both servers with no Node flags at all (no
 * GC exposed, no semi-space cap), `torpor start` with no tuning flags (its default hibernation
 * delay; pinned to the server core, so one worker). RSS is read after every object hibernated (raw:
 * every connection open) and then 15 s and 30 s of idleness, over a base taken the same way (at
 * 15 s) after a warm-up.
 */
async function atDefaults(rows: Row[], notes: string[]): Promise<void> {
  const n = STEPS[0]!;
  const product = await startProduct("objects-defaults", "idle", { workerd: false, defaults: true });
  const lgs = await startLoadgens();
  const per: Partial<Record<Side, number[]>> = {};
  try {
    for (const side of product.names) {
      const server = product.sides[side]!;
      const rss = side === "torpor" ? () => server.call<number>("treeRss") : async () => rssOf(server.pid);
      const settled = async (sockets: number, idle: number[]) => {
        if (side === "torpor") await waitHibernated(server, sockets, 60_000);
        else if ((await server.call<number>("connections")) !== sockets) throw new Error(`raw: not ${sockets} connections`);
        const t0 = Date.now();
        const out: number[] = [];
        for (const ms of idle) {
          await new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - Date.now())));
          out.push(await rss());
        }
        return out;
      };
      await connectSpread(
        lgs,
        `d-${side}`,
        wsBase(server),
        Array.from({ length: WARM }, (_, i) => `/ROOM/dwarm${i}?u=w${i}`),
      );
      const [base] = (await settled(WARM, [IDLE_MS[0]!])) as [number];
      await connectSpread(
        lgs,
        `d-${side}`,
        wsBase(server),
        Array.from({ length: n }, (_, i) => `/ROOM/dobj${i}?u=u${i}`),
      );
      const after = await settled(WARM + n, IDLE_MS);
      per[side] = after.map((r) => (r - base) / n);
      notes.push(
        `- at the defaults, ${side}: base ${fmt(base / 2 ** 20)} MiB; ${n.toLocaleString("en-US")} hibernated one-socket objects: ${after.map((r, i) => `${fmt(r / 2 ** 20)} MiB (${fmt(per[side]![i]!)} B/object) ${IDLE_MS[i]! / 1000} s`).join(", ")} after all hibernated`,
      );
      await Promise.all(lgs.map((l) => l.call("close", { group: `d-${side}` })));
    }
    if (product.sides.torpor !== undefined) {
      const gc = await product.sides.torpor.call<{ collections: number; seconds: number }>("idleGc");
      notes.push(`- at the defaults, torpor start ran ${gc.collections} idle collection(s), ${fmt(gc.seconds * 1000)} ms CPU in all`);
    }
  } finally {
    await Promise.all(lgs.map((l) => l.stop()));
    await product.stop();
  }
  IDLE_MS.forEach((ms, i) => {
    rows.push(
      ratioRow(
        `bytes per idle conn, ${n.toLocaleString("en-US")} conns each to its own object, at the defaults (no flags on either side), ${ms / 1000} s idle`,
        { raw: per.raw?.[i], torpor: per.torpor![i]! },
        "B",
        { max: 1.5 },
      ),
    );
  });
}

function countFiles(dir: string): { db: number; wal: number } {
  let db = 0;
  let wal = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(`${d}/${e.name}`);
      else if (e.name.startsWith("_"))
        continue; // the alarm index
      else if (e.name.endsWith(".sqlite")) db++;
      else if (e.name.endsWith("-wal")) wal++;
    }
  };
  try {
    walk(dir);
  } catch {
    // No data directory at all: nothing was written.
  }
  return { db, wal };
}
