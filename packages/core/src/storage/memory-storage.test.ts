import { describe, expect, it } from "vitest";
import { memoryStorage } from "./memory-storage.ts";
import type { StorageHooks } from "./storage-provider.ts";

const hooks: StorageHooks = { writeStarted() {}, alarmChanged() {}, flush: async () => {}, holdInput: (p) => p };
const key = { namespace: "TEST", id: "a".repeat(64) };

describe("memoryStorage", () => {
  it("has no SQL, and says which provider has it", () => {
    const storage = memoryStorage().open(key, hooks);
    expect(() => storage.api.sql).toThrow(expect.objectContaining({ code: "ERR_SQL_UNAVAILABLE", message: expect.stringContaining("@torpor/storage-sqlite") }));
  });

  it("keeps data per provider: a new provider starts empty", async () => {
    const first = memoryStorage();
    const s = first.open(key, hooks);
    await s.api.put("k", 1);
    s.close();
    expect(await first.open(key, hooks).api.get("k")).toBe(1);
    expect(await memoryStorage().open(key, hooks).api.get("k")).toBeUndefined();
  });

  it("refuses bad limits", () => {
    expect(() => memoryStorage({ limits: { maxKeyBytes: 0 } })).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTIONS" }));
  });
});
