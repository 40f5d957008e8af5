import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished, test, vi } from "vitest";

/**
 * An object that never touches `ctx.storage` (one that only holds
 * WebSockets: a new one per connection) builds no storage API and no SQL
 * API; the first read of `ctx.storage` builds it, once.
 */

const { built, counted } = vi.hoisted(() => {
  const built = { api: 0, sql: 0 };
  /** `fn`, counting its calls in `built[what]`. */
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => R, what: keyof typeof built) =>
    (...args: A): R => {
      built[what]++;
      return fn(...args);
    };
  return { built, counted };
});
vi.mock("@torpor/core/storage", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@torpor/core/storage")>();
  return { ...actual, createStorageApi: counted(actual.createStorageApi, "api") };
});
vi.mock("../src/sql-storage.ts", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../src/sql-storage.ts")>();
  return { ...actual, createSqlStorage: counted(actual.createSqlStorage, "sql") };
});
const { DurableObject, Runtime, silentLogger } = await import("@torpor/core");
const { sqliteStorage } = await import("../src/index.ts");

class Lazy extends DurableObject {
  ping() {
    return "pong";
  }
  async same() {
    const first = this.ctx.storage;
    return first === this.ctx.storage && (await first.get("k")) === undefined;
  }
  count() {
    return this.ctx.storage.sql.exec("SELECT 1 AS n").one().n;
  }
}

describe("the storage API is built on first use", () => {
  test("objects that never read ctx.storage build none; the first read builds it once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "torpor-lazy-api-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const runtime = new Runtime({ objects: { L: Lazy }, storage: sqliteStorage({ dir, synchronous: "OFF" }), logger: silentLogger });
    onTestFinished(() => runtime.close());
    const ns = runtime.namespace<Lazy>("L");
    built.api = 0;
    built.sql = 0;
    for (let i = 0; i < 10; i++) expect(await ns.getByName(`socket-only-${i}`).ping()).toBe("pong");
    expect(built).toEqual({ api: 0, sql: 0 });
    expect(await ns.getByName("reader").same()).toBe(true);
    expect(built).toEqual({ api: 1, sql: 0 });
    expect(await ns.getByName("reader").count()).toBe(1);
    expect(await ns.getByName("reader").count()).toBe(1);
    expect(built).toEqual({ api: 1, sql: 1 });
  });
});
