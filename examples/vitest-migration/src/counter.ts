import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env.ts";

/** What `alarm()` was called with, one row per call. */
export interface AlarmRun {
  retryCount: number;
  isRetry: boolean;
}

/**
 * A counter: `fetch` increments both an instance field and a stored count
 * (so a test can tell a fresh instance from a living one), `increment` is
 * the same over RPC, an alarm resets the count, notes live in SQL.
 */
export class Counter extends DurableObject<Env> {
  /** Counts the requests this instance served; gone when the object is evicted. */
  served = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS alarm_runs (retry_count INTEGER NOT NULL, is_retry INTEGER NOT NULL)");
  }

  override async fetch(request: Request): Promise<Response> {
    const by = Number(new URL(request.url).searchParams.get("by") ?? "1");
    this.served++;
    const count = await this.increment(by);
    return Response.json({ count, served: this.served });
  }

  /** Adds `by` to the stored count and returns it (an RPC method). */
  async increment(by = 1): Promise<number> {
    const count = ((await this.ctx.storage.get<number>("count")) ?? 0) + by;
    await this.ctx.storage.put("count", count);
    return count;
  }

  async getCount(): Promise<number> {
    return (await this.ctx.storage.get<number>("count")) ?? 0;
  }

  /** Schedules the alarm; while `failures` > 0, `alarm()` throws and counts one down. */
  async scheduleReset(inMs: number, failures = 0): Promise<void> {
    await this.ctx.storage.put("alarmFailures", failures);
    await this.ctx.storage.setAlarm(Date.now() + inMs);
  }

  override async alarm(info?: AlarmInvocationInfo): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO alarm_runs VALUES (?, ?)", info?.retryCount ?? -1, info?.isRetry === true ? 1 : 0);
    const failures = (await this.ctx.storage.get<number>("alarmFailures")) ?? 0;
    if (failures > 0) {
      await this.ctx.storage.put("alarmFailures", failures - 1);
      throw new Error(`alarm failed (${failures} to go)`);
    }
    await this.ctx.storage.put("count", 0);
  }

  /** The calls `alarm()` received: `retryCount` is -1 for a call without invocation info. */
  alarmRuns(): AlarmRun[] {
    return this.ctx.storage.sql
      .exec<{ retry_count: number; is_retry: number }>("SELECT retry_count, is_retry FROM alarm_runs ORDER BY rowid")
      .toArray()
      .map((row) => ({ retryCount: row.retry_count, isRetry: row.is_retry === 1 }));
  }

  addNote(body: string): number {
    return this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO notes (body) VALUES (?) RETURNING id", body).one().id;
  }

  notes(): string[] {
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM notes ORDER BY id")
      .toArray()
      .map((row) => row.body);
  }
}
