import { describe, expect, test } from "vitest";
import { checkAcksAfterSync, type Ack } from "./strace/ack-check.ts";
import { alarmIndexAfterPowerLoss, lostAfterPowerLoss, session, startTraced, type TracedRun } from "./strace/harness.ts";
import type { FileSync } from "./strace/trace.ts";
import { straceAvailable } from "./strace/trace.ts";

/**
 * "Acknowledged means durable", read from what the server really did: it
 * runs under `strace -f`, a workload of KV writes, SQL rows, alarms and
 * calls to other objects goes through real WebSockets, and the trace is
 * checked two ways:
 * - every ack frame (and alarm notification) was written to its socket after
 *   a successful fsync/fdatasync of every file holding the writes it
 *   acknowledges (found by their bytes), with no failed sync in between;
 * - a power loss replayed from the trace right after each ack (unsynced pages
 *   dropped, failed syncs losing their pages) leaves every acknowledged write
 *   readable by SQLite.
 * The same checks fail on a server that acknowledges before its commit.
 * `.ci/run` installs strace when it is missing; without it (or without ptrace)
 * this file is skipped with a message.
 */
const available = straceAvailable();
if (!available) process.stderr.write("strace-durability.test.ts: skipped (strace is not installed or ptrace is not allowed)\n");

type Op = "kv" | "sql" | "call" | "alarm";
const OPS: Op[] = ["kv", "sql", "call", "alarm"];

/** `sessions` objects, each sent `rounds` requests one at a time, cycling through `ops`; waits for the alarms. */
async function workload(port: number, sessions: number, rounds: number, ops: Op[]): Promise<Ack[]> {
  const acks: Ack[] = [];
  let seq = 0;
  const expectedAlarms: number[] = [];
  const open = await Promise.all(Array.from({ length: sessions }, (_, i) => session(port, `obj-${i}`, acks)));
  await Promise.all(
    open.map(async (s, i) => {
      for (let r = 0; r < rounds; r++) {
        const op = ops[(r + i) % ops.length]!;
        const n = ++seq;
        if (op === "alarm") expectedAlarms.push(n);
        const ok = await s.request({ seq: n, op, ...(op === "call" ? { peer: `peer-${i}` } : {}) });
        if (!ok) throw new Error(`request ${n} (${op}) got no ack`);
      }
    }),
  );
  // The last alarm of an object replaces the ones before it: wait for the last of each.
  const deadline = Date.now() + 15_000;
  while (expectedAlarms.length > 0 && Date.now() < deadline && !open.every((s) => lastAlarmSeen(s.alarms, expectedAlarms))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const s of open) s.close();
  return acks;
}

function lastAlarmSeen(seen: Set<number>, expected: number[]): boolean {
  return expected.some((n) => seen.has(n));
}

async function tracedWorkload(run: TracedRun, sessions: number, rounds: number, ops = OPS) {
  const server = await startTraced(run);
  try {
    const acks = await workload(server.port, sessions, rounds, ops);
    const events = await server.stop();
    return { acks, events, dir: server.dir };
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  } finally {
    server.cleanup();
  }
}

describe.skipIf(!available)("acknowledged means durable, checked from a syscall trace", () => {
  test("every ack leaves after the sync of every file holding its writes, and survives a power loss replayed right after it", {
    timeout: 120_000,
  }, async () => {
    const { acks, events, dir } = await tracedWorkload({}, 4, 12);
    expect(acks.filter((a) => a.label.startsWith("ack"))).toHaveLength(48);
    expect(acks.some((a) => a.label.startsWith("alarm"))).toBe(true);
    expect(checkAcksAfterSync(events, acks)).toEqual([]);
    expect(lostAfterPowerLoss(events, dir, acks)).toEqual([]);
  });

  test("the same checks fail on a server that acknowledges before its commit", { timeout: 120_000 }, async () => {
    // No alarms: the weakened server never commits, so none would fire.
    const { acks, events, dir } = await tracedWorkload({ env: { TORPOR_TEST_WEAKEN: "ack-before-commit" } }, 2, 4, ["kv", "sql", "call"]);
    expect(acks.filter((a) => a.label.startsWith("ack"))).toHaveLength(8);
    const problems = checkAcksAfterSync(events, acks);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/before any write of/);
    expect(lostAfterPowerLoss(events, dir, acks).length).toBeGreaterThan(0);
  });

  test("after a failed fdatasync (EIO from the kernel's syscall layer), nothing acknowledged later rests on the pages it may have lost", {
    timeout: 120_000,
  }, async () => {
    // One thread-pool thread, so the third fdatasync in the process is the WAL sync of the third commit.
    // maxOpenDatabases keeps the database open across the reset: the next instance reuses the handle.
    const server = await startTraced({ inject: ["fdatasync:error=EIO:when=3"], env: { UV_THREADPOOL_SIZE: "1", TORPOR_TEST_MAX_OPEN: "4" } });
    const acks: Ack[] = [];
    try {
      let s = await session(server.port, "victim", acks);
      expect(await s.request({ seq: 1, op: "kv" })).toBe(true);
      expect(await s.request({ seq: 2, op: "sql" })).toBe(true);
      // Its sync fails: no ack, the object is reset (the socket closes with 1011).
      expect(await s.request({ seq: 3, op: "kv" })).toBe(false);
      s = await session(server.port, "victim", acks);
      for (let seq = 4; seq <= 9; seq++) expect(await s.request({ seq, op: seq % 2 === 0 ? "kv" : "sql" })).toBe(true);
      s.close();
      const events = await server.stop();
      const failed = events.filter((e): e is FileSync => e.kind === "sync" && !e.ok);
      expect(failed.map((e) => e.call.name)).toEqual(["fdatasync"]);
      expect(failed[0]!.path).toMatch(/\.sqlite-wal$/);
      expect(checkAcksAfterSync(events, acks)).toEqual([]);
      expect(lostAfterPowerLoss(events, server.dir, acks)).toEqual([]);
    } finally {
      server.cleanup();
    }
  });

  test("the alarm index never misses nor delays an alarm, after a power loss replayed at every sync", { timeout: 120_000 }, async () => {
    const server = await startTraced();
    const acks: Ack[] = [];
    try {
      const s = await session(server.port, "alarms", acks);
      let seq = 0;
      // A periodic alarm whose alarm() writes nothing: each run's deletion is the only write after it.
      for (let round = 0; round < 3; round++) {
        expect(await s.request({ seq: ++seq, op: "quiet-alarm" })).toBe(true);
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const n = ++seq;
          expect(await s.request({ seq: n, op: "alarm-state" })).toBe(true);
          if (s.replies.get(n) === "null") break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      // An alarm moved later, twice, and then earlier.
      for (const inMs of [3_600_000, 7_200_000, 10_800_000, 1_800_000]) expect(await s.request({ seq: ++seq, op: "alarm-at", inMs })).toBe(true);
      s.close();
      const events = await server.stop();
      expect(alarmIndexAfterPowerLoss(events, server.dir)).toEqual([]);
    } finally {
      server.cleanup();
    }
  });
});
