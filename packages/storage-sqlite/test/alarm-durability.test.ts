import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, onTestFinished, test, vi } from "vitest";
import { DurableObject, Runtime, type Logger } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";
import { injectFsyncFault } from "../src/wal-sync.ts";

/**
 * The alarm index (`_alarms.sqlite`) says which objects have an alarm and
 * when, so start-up schedules them without opening every object. It may say
 * too much or too early (the runtime re-reads the object's own alarm before
 * running it), never too little or too late. So it may forget an alarm, or
 * move it later, only once the object's own change is durable: otherwise a
 * power loss that drops the object's unsynced change leaves an alarm that
 * nothing schedules (a periodic alarm dies), or one scheduled late.
 *
 * The object's fsyncs go through a hook in the provider's fsync path
 * (wal-sync.ts) that holds them until the test lets them run, which is how
 * "committed but not yet durable" is observed.
 */

let alarmRuns = 0;

class Periodic extends DurableObject {
  async arm(at: number): Promise<void> {
    await this.ctx.storage.setAlarm(at);
  }
  // Writes nothing: its alarm's deletion is the only write of the batch after it.
  override async alarm(): Promise<void> {
    alarmRuns++;
  }
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Holds the object's fsync rounds: each waits for `release()` (in order). */
function heldFsyncs() {
  const waiting: Array<() => void> = [];
  let calls = 0;
  injectFsyncFault(() => {
    calls++;
    return new Promise<void>((resolve) => waiting.push(resolve));
  });
  return {
    get calls() {
      return calls;
    },
    release(): void {
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

const dirs: string[] = [];
afterEach(() => {
  injectFsyncFault(null);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start() {
  const dir = mkdtempSync(join(tmpdir(), "torpor-alarm-durability-"));
  dirs.push(dir);
  const storage = sqliteStorage({ dir });
  const runtime = new Runtime({ objects: { P: Periodic }, storage, logger: quiet });
  onTestFinished(async () => {
    injectFsyncFault(null);
    await runtime.close();
  });
  return { runtime, storage, stub: runtime.namespace<Periodic>("P").getByName("p") };
}

describe("the alarm index follows durable changes only", () => {
  test("after an alarm() that wrote nothing, the alarm's deletion is fsynced before the index forgets it", async () => {
    const { storage, stub } = await start();
    alarmRuns = 0;
    const fsyncs = heldFsyncs();
    const arming = stub.arm(Date.now());
    await vi.waitFor(() => expect(fsyncs.calls).toBe(1));
    fsyncs.release();
    await arming;
    await vi.waitFor(() => expect(alarmRuns).toBe(1));
    // The deletion is a batch of its own, on its way to disk: until it is there the index keeps the alarm.
    await vi.waitFor(() => expect(fsyncs.calls).toBe(2));
    expect(storage.listAlarms()).toHaveLength(1);
    fsyncs.release();
    await vi.waitFor(() => expect(storage.listAlarms()).toEqual([]));
  });

  test("an alarm moved later is indexed at its new time only once that is durable; moved earlier, at once", async () => {
    const { storage, stub } = await start();
    const t1 = Date.now() + 3_600_000;
    const t2 = t1 + 3_600_000;
    const t0 = t1 - 1_800_000;
    const fsyncs = heldFsyncs();
    const times = () => storage.listAlarms().map((a) => a.scheduledTime);

    const first = stub.arm(t1);
    await vi.waitFor(() => expect(fsyncs.calls).toBe(1));
    expect(times()).toEqual([t1]);
    fsyncs.release();
    await first;

    const later = stub.arm(t2);
    await vi.waitFor(() => expect(fsyncs.calls).toBe(2));
    // Committed, not yet durable: a power loss now keeps t1 in the object, so the index must not say t2.
    expect(times()).toEqual([t1]);
    fsyncs.release();
    await later;
    await vi.waitFor(() => expect(times()).toEqual([t2]));

    const earlier = stub.arm(t0);
    await vi.waitFor(() => expect(fsyncs.calls).toBe(3));
    expect(times()).toEqual([t0]);
    fsyncs.release();
    await earlier;
    expect(times()).toEqual([t0]);
  });
});
