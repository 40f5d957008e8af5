import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqliteStorage } from "../src/index.ts";
import { ObjectDatabase } from "../src/object-database.ts";
import { objectKey, openObject } from "./driver.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "torpor-provider-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** File descriptors of this process open on files under `under`. */
function openFilesUnder(under: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(under);
    } catch {
      return false; // the fd closed while listing
    }
  }).length;
}

describe("sqliteStorage options", () => {
  it.each(["FULL", "NORMAL", "OFF"] as const)("applies synchronous %s", (mode) => {
    // User SQL may not read these pragmas (as on workerd): ask the database the provider opens.
    const odb = new ObjectDatabase(join(dir, "sync.sqlite"), mode);
    expect(odb.db.pragma("synchronous", { simple: true })).toBe({ OFF: 0, NORMAL: 1, FULL: 2 }[mode]);
    expect(odb.db.pragma("journal_mode", { simple: true })).toBe("wal");
    odb.db.close();
    expect(sqliteStorage({ dir, synchronous: mode }).options.synchronous).toBe(mode);
  });

  it("refuses bad options with one precise error", () => {
    expect(() => sqliteStorage({ dir, synchronous: "EXTRA" as "FULL" })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTIONS", message: expect.stringContaining("synchronous") }),
    );
    expect(() => sqliteStorage({ dir, maxOpenDatabases: -1 })).toThrow(/maxOpenDatabases/);
    expect(() => sqliteStorage({ dir, bogus: 1 } as object)).toThrow(/ERR_INVALID_OPTIONS|bogus|invalid/);
    expect(() => sqliteStorage({ dir, limits: { maxKeyBytes: 0 } })).toThrow(/limits\.maxKeyBytes/);
  });

  it("applies custom limits", async () => {
    const provider = sqliteStorage({ dir: ":memory:", limits: { maxKeyBytes: 4, maxKeysPerCall: 2 } });
    const { api } = openObject(provider, objectKey("limits"));
    await expect(api.put("12345", 1)).rejects.toMatchObject({ code: "ERR_STORAGE_KEY_TOO_LARGE" });
    await expect(api.get(["a", "b", "c"])).rejects.toMatchObject({ code: "ERR_STORAGE_TOO_MANY_KEYS" });
    provider.close();
  });
});

describe("database handles", () => {
  it("keeps at most maxOpenDatabases handles of hibernated objects", async () => {
    const provider = sqliteStorage({ dir, maxOpenDatabases: 3 });
    const live = Array.from({ length: 10 }, (_, i) => openObject(provider, objectKey(`o${i}`)));
    for (const [i, s] of live.entries()) await s.api.put("i", i);
    expect(provider.openDatabaseCount).toBe(10);
    const perObject = openFilesUnder(join(dir, "TEST")) / 10;
    for (const s of live) s.close();
    expect(provider.openDatabaseCount).toBe(3);
    expect(openFilesUnder(join(dir, "TEST"))).toBe(3 * perObject);
    // Evicted objects reopen from disk with their data.
    for (let i = 0; i < 10; i++) {
      const s = openObject(provider, objectKey(`o${i}`));
      expect(await s.api.get("i")).toBe(i);
      s.close();
    }
    expect(provider.openDatabaseCount).toBe(3);
    expect(provider.listObjects("TEST")).toHaveLength(10);
    provider.close();
    expect(openFilesUnder(dir)).toBe(0);
  });

  it("lays out one database file per object", async () => {
    const provider = sqliteStorage({ dir });
    const key = objectKey("layout", "My.NS");
    const s = openObject(provider, key);
    await s.api.put("a", 1);
    s.close();
    provider.close();
    expect(readdirSync(join(dir, "My%2ENS")).filter((f) => f.endsWith(".sqlite"))).toEqual([`${key.id}.sqlite`]);
    expect(readdirSync(dir)).toContain("_alarms.sqlite");
  });

  it("finds alarms and names after a restart, from the index", async () => {
    const first = sqliteStorage({ dir });
    const key = { ...objectKey("alarmed"), name: "alarmed" };
    const s = openObject(first, key);
    await s.api.setAlarm(123_456);
    s.close();
    first.close();
    const second = sqliteStorage({ dir });
    expect(second.listAlarms()).toEqual([{ key: { namespace: "TEST", id: key.id, name: "alarmed" }, scheduledTime: 123_456 }]);
    expect(second.listObjects("TEST")).toEqual([{ namespace: "TEST", id: key.id, name: "alarmed" }]);
    second.close();
  });
});
