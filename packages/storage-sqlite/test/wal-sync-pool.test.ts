/**
 * A commit's WAL sync makes one trip to libuv's thread pool, not three. The
 * pool (4 threads) is shared by every object of the process and is full of
 * fdatasyncs under a durable load, so each trip waits behind the syncs queued
 * before it: an open and a close on the pool made every round wait in that
 * queue three times (the durable echo's tail, issue 23 item 3).
 */
import { createHook } from "node:async_hooks";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { WalFile } from "../src/wal-sync.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "torpor-walsync-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Counts the fs requests sent to the thread pool while `run` settles. */
async function poolTrips(run: () => Promise<void>): Promise<number> {
  let trips = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === "FSREQCALLBACK") trips++;
    },
  });
  hook.enable();
  try {
    await run();
  } finally {
    hook.disable();
  }
  return trips;
}

test("a WAL sync round is one fdatasync on the pool (open and close stay on the calling thread)", async () => {
  const database = join(dir, "obj.sqlite");
  writeFileSync(`${database}-wal`, "frames");
  const wal = new WalFile(database);
  // The first round after an open also fsyncs the directory: one trip more.
  expect(await poolTrips(() => wal.sync())).toBe(2);
  expect(await poolTrips(() => wal.sync())).toBe(1);
  // Concurrent callers share rounds: one running, one waiting that the rest join.
  expect(await poolTrips(() => Promise.all([wal.sync(), wal.sync(), wal.sync()]).then(() => {}))).toBe(2);
});

test("a WAL that no longer exists (closed and deleted by SQLite) syncs as done, with no trip for it", async () => {
  const wal = new WalFile(join(dir, "gone.sqlite"));
  // The one trip is the directory's fsync (the first round after an open).
  expect(await poolTrips(() => wal.sync())).toBe(1);
  expect(await poolTrips(() => wal.sync())).toBe(0);
  expect(wal.failure).toBeNull();
});
