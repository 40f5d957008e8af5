import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished, test, vi } from "vitest";
import { DurableObject, Runtime, silentLogger } from "@torpor/core";
import { AlarmIndex } from "../src/alarm-index.ts";
import { sqliteStorage } from "../src/index.ts";

/**
 * Every construction asks the storage for the object's alarm. An object with
 * no file has none (an alarm lives in the object's own database), so that
 * answer costs no read of the alarm index, which every worker of a cluster
 * shares (a read transaction on a WAL database: the largest part of
 * Torpor's own storage work when a connection opens a new object).
 */

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-alarm-lookup-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

class Timed extends DurableObject {
  ping() {
    return "pong";
  }
  async arm(at: number) {
    await this.ctx.storage.setAlarm(at);
  }
  async put() {
    await this.ctx.storage.put("k", 1);
  }
  alarmTime() {
    return this.ctx.storage.getAlarm();
  }
  override async alarm() {
    await this.ctx.storage.put("fired", true);
  }
}

function runtimeOn(dir: string) {
  const runtime = new Runtime({ objects: { T: Timed }, storage: sqliteStorage({ dir, synchronous: "OFF" }), logger: silentLogger });
  onTestFinished(() => runtime.close());
  return { runtime, ns: runtime.namespace<Timed>("T") };
}

describe("the alarm lookup at construction", () => {
  test("objects with no file are constructed and woken without reading the alarm index", async () => {
    const { runtime, ns } = runtimeOn(tempDir());
    const reads = vi.spyOn(AlarmIndex.prototype, "hasAlarm");
    onTestFinished(() => reads.mockRestore());
    for (let i = 0; i < 20; i++) expect(await ns.getByName(`new-${i}`).ping()).toBe("pong");
    await runtime.hibernateAll();
    for (let i = 0; i < 20; i++) expect(await ns.getByName(`new-${i}`).ping()).toBe("pong");
    expect(reads).not.toHaveBeenCalled();
  });

  test("an object with a file still finds its alarm when it wakes and after a restart", async () => {
    const dir = tempDir();
    const at = Date.now() + 60_000;
    {
      const { runtime, ns } = runtimeOn(dir);
      await ns.getByName("timed").arm(at);
      await ns.getByName("plain").put();
      await runtime.hibernateAll();
      expect(await ns.getByName("timed").alarmTime()).toBe(at);
      expect(await ns.getByName("plain").alarmTime()).toBe(null);
      await runtime.close();
    }
    const { runtime, ns } = runtimeOn(dir);
    const reads = vi.spyOn(AlarmIndex.prototype, "hasAlarm");
    onTestFinished(() => reads.mockRestore());
    expect(await ns.getByName("timed").alarmTime()).toBe(at);
    expect(runtime.inspect(ns.getByName("timed")).alarm).toBe(at);
    expect(await ns.getByName("plain").alarmTime()).toBe(null);
    // Only objects that have a file ask the index (here: the two that wrote).
    expect(reads.mock.calls.length).toBeLessThanOrEqual(2);
  });
});
