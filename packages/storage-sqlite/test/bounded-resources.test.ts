import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { DurableObject, Runtime, silentLogger } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";

/**
 * What many objects cost on disk and in file handles: an object that never
 * writes has no file, and a hibernated object holds no file descriptor.
 */

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-bounded-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

class Visited extends DurableObject {
  override async fetch(): Promise<Response> {
    const seen = await this.ctx.storage.get("seen");
    return new Response(seen === undefined ? "new" : "known");
  }
  async write(value: number) {
    await this.ctx.storage.put("seen", value);
  }
  async read() {
    return this.ctx.storage.get("seen");
  }
  sqlRead() {
    return this.ctx.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 'log'").one().n;
  }
  sqlMissingTable() {
    return this.ctx.storage.sql.exec("SELECT * FROM log").toArray();
  }
  sqlCreate() {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (body TEXT)");
    this.ctx.storage.sql.exec("INSERT INTO log VALUES ('a')");
    return this.ctx.storage.sql.exec("SELECT count(*) AS n FROM log").one().n;
  }
  async alarmTime() {
    return this.ctx.storage.getAlarm();
  }
}

function runtimeOn(dir: string) {
  // OFF: these tests count files and handles, not durability (thousands of fsyncs would only slow them).
  const runtime = new Runtime({ objects: { V: Visited }, storage: sqliteStorage({ dir, synchronous: "OFF" }), logger: silentLogger });
  onTestFinished(() => runtime.close());
  return { runtime, ns: runtime.namespace<Visited>("V") };
}

/** Object files (and their -wal/-shm companions) under `dir`, without the alarm index. */
function objectFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith("_alarms"))
    .map((e) => e.name);
}

/** File descriptors of this process open on files under `dir`. */
function fdsUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++;
    } catch {
      // Closed while listing.
    }
  }
  return n;
}

describe("storage is created by the first write", () => {
  test("2,000 read-only visits leave no file", async () => {
    const dir = tempDir();
    const { runtime, ns } = runtimeOn(dir);
    const before = fdsUnder(dir); // the alarm index
    for (let i = 0; i < 2_000; i++) {
      const res = await ns.getByName(`visitor-${i}`).fetch("http://do/");
      expect(await res.text()).toBe("new");
    }
    expect(objectFiles(dir)).toEqual([]);
    await runtime.hibernateAll();
    expect(objectFiles(dir)).toEqual([]);
    expect(fdsUnder(dir)).toBe(before);
  });

  test("reads, SQL reads and getAlarm on a never-written object create nothing; the first write does, with the name", async () => {
    const dir = tempDir();
    const { runtime, ns } = runtimeOn(dir);
    const stub = ns.getByName("lazy");
    expect(await stub.read()).toBeUndefined();
    expect(await stub.sqlRead()).toBe(0);
    await expect(stub.sqlMissingTable()).rejects.toThrow(/no such table: log/);
    expect(await stub.alarmTime()).toBeNull();
    expect(objectFiles(dir)).toEqual([]);
    expect(runtime.provider.listObjects("V")).toEqual([]);

    // A writing statement on an object with no file creates it and runs on it.
    expect(await stub.sqlCreate()).toBe(1);
    expect(objectFiles(dir)).toHaveLength(2); // the database and its WAL while open
    await stub.write(7);
    expect(runtime.provider.listObjects("V")).toEqual([{ namespace: "V", id: stub.id.toString(), name: "lazy" }]);
    await runtime.hibernate(stub);
    expect(await stub.read()).toBe(7);
  });
});

describe("hibernated objects hold no file descriptors", () => {
  // More objects than the old cache of 256 open databases of hibernated objects (2 fds each).
  test("300 objects that wrote, all hibernated: no extra fds, no -wal files left", async () => {
    const dir = tempDir();
    const { runtime, ns } = runtimeOn(dir);
    const before = fdsUnder(dir);
    for (let i = 0; i < 300; i++) await ns.getByName(`writer-${i}`).write(i);
    await runtime.hibernateAll();
    expect(fdsUnder(dir)).toBe(before);
    const files = objectFiles(dir);
    expect(files.filter((f) => f.endsWith(".sqlite"))).toHaveLength(300);
    expect(files.filter((f) => f.endsWith("-wal") || f.endsWith("-shm"))).toEqual([]);
    // Their data is there when they wake.
    expect(await ns.getByName("writer-123").read()).toBe(123);
  }, 60_000);
});
