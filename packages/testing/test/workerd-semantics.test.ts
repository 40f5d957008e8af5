// Behaviours that must match workerd (each also checked against workerd by
// compat/'s differential suite); here on the test runtime with SQLite storage.
import { DurableObject } from "@torpor/core";
import { expect, test } from "vitest";
import { createTestRuntime } from "../src/index.ts";

class Scheduler extends DurableObject {
  seen: unknown[] = [];

  async arm(at: number) {
    await this.ctx.storage.setAlarm(at);
    return this.ctx.storage.getAlarm();
  }

  override async alarm(info: { retryCount: number; isRetry: boolean; scheduledTime: number }) {
    const inside = await this.ctx.storage.getAlarm();
    // The usual guard: reschedule only when no alarm is set.
    if (inside === null) await this.ctx.storage.setAlarm(info.scheduledTime + 60_000);
    this.seen.push({ inside, after: await this.ctx.storage.getAlarm(), info: { ...info }, ctor: info.constructor.name });
  }

  report() {
    return this.seen;
  }
}

class Sql extends DurableObject {
  counters() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    sql.exec("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')");
    const matched = sql.exec("UPDATE t SET v = 'x' WHERE id <= 2");
    const missed = sql.exec("UPDATE t SET v = 'y' WHERE id = 99");
    const read = sql.exec("SELECT * FROM t");
    read.toArray();
    return { matched: matched.rowsWritten, missed: missed.rowsWritten, read: read.rowsRead };
  }
}

test("getAlarm() is null inside alarm(), so the usual reschedule guard works; alarm() gets workerd's AlarmInvocationInfo", async () => {
  const t = createTestRuntime({ objects: { S: Scheduler } });
  const stub = t.env.S.getByName("a");
  const at = t.clock.now() + 1_000;
  expect(await stub.arm(at)).toBe(at);
  await t.clock.advance(1_000); // fires the alarm
  expect(await stub.report()).toEqual([
    { inside: null, after: at + 60_000, info: { scheduledTime: at, retryCount: 0, isRetry: false }, ctor: "AlarmInvocationInfo" },
  ]);
  // The new alarm is pending after the run.
  expect(await stub.arm(at + 60_000)).toBe(at + 60_000);
});

test("rowsWritten tells whether an UPDATE matched; rowsRead counts the rows a scan returned", async () => {
  const t = createTestRuntime({ objects: { Q: Sql } });
  expect(await t.env.Q.getByName("q").counters()).toEqual({ matched: 2, missed: 0, read: 3 });
});
