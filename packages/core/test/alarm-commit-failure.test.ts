import { expect, onTestFinished, test } from "vitest";
import { DurableObject, Runtime, VirtualClock, memoryStorage } from "../src/index.ts";
import { recordingLogger } from "./helpers.ts";

let runs = 0;
let failCommits = 0;

class Waker extends DurableObject {
  async wakeAt(time: number): Promise<void> {
    await this.ctx.storage.setAlarm(time);
  }
  async pending(): Promise<number | null> {
    return this.ctx.storage.getAlarm();
  }
  override async alarm(): Promise<void> {
    runs++;
    // A write, so clearing the alarm commits this batch too.
    await this.ctx.storage.put("ran", runs);
  }
}

test("a failed commit while clearing a finished alarm resets the object and runs the alarm again after a backoff, not in a loop", async () => {
  runs = 0;
  failCommits = 0;
  const clock = new VirtualClock();
  const logger = recordingLogger();
  const storage = memoryStorage({
    beforeCommit() {
      if (failCommits > 0) {
        failCommits--;
        throw new Error("disk full (injected)");
      }
    },
  });
  const runtime = new Runtime({ objects: { W: Waker }, storage, clock, logger });
  onTestFinished(() => runtime.close());
  const stub = runtime.namespace<Waker>("W").getByName("w");
  await stub.wakeAt(clock.now() + 1_000);

  failCommits = 1;
  await clock.advance(1_000);
  expect(runs).toBe(1);
  expect(logger.entries.filter((e) => e.level === "error").map((e) => e.message)).toEqual(["Storage commit failed; resetting the object"]);
  // No tight loop: nothing runs before the first backoff (2 s, up to 25% jitter).
  await clock.advance(1_999);
  expect(runs).toBe(1);
  await clock.advance(501);
  expect(runs).toBe(2);
  // That run's clear committed: the alarm is done.
  expect(await stub.pending()).toBeNull();
  await clock.advance(60_000);
  expect(runs).toBe(2);
});
