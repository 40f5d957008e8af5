/**
 * Rows read through binary COPY (what a restore uses for bytea): every byte
 * value survives (node-pg's own binary rows turn bytes that are not UTF-8 into
 * U+FFFD), NULLs and bigints come through, a malformed stream is refused.
 */
import { describe, expect, it } from "vitest";
import { int8, parseCopyBinary, sqlInteger, sqlLiteral } from "../src/copy-binary.ts";
import { openFresh, pgIt, usePgServer } from "./pg-fixture.ts";

const pg = usePgServer();

describe("binary COPY reads", () => {
  pgIt("returns each byte as stored, NULLs and bigints, inside the caller's transaction", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await db.withClient(async (c) => {
        await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
        await c.query("CREATE TEMP TABLE t (k text, n bigint, b bytea)");
        await c.query("INSERT INTO t VALUES ($1, $2, $3), ('two', -5, NULL)", ["it's", 9_007_199_254_740_991, every]);
        const rows = await c.copyOut(`SELECT n, b FROM t WHERE k IN (${sqlLiteral("it's")}, 'two') ORDER BY n`);
        expect(rows.length).toBe(2);
        expect(int8(rows[0]![0])).toBe(-5);
        expect(rows[0]![1]).toBeNull();
        expect(int8(rows[1]![0])).toBe(9_007_199_254_740_991);
        expect(rows[1]![1]!.equals(every)).toBe(true);
        expect(await c.copyOut("SELECT b FROM t WHERE false")).toEqual([]);
        await c.query("COMMIT");
      });
      // The connection is still usable after COPY (the pool hands it out again).
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one).toBe(1);
    } finally {
      await db.close();
    }
  });

  pgIt("rejects with the server's error and leaves the connection usable", async () => {
    const db = await openFresh(pg.get().url);
    try {
      await db.withClient(async (c) => {
        await expect(c.copyOut("SELECT no_such_column FROM pg_class")).rejects.toThrow(/no_such_column/);
        expect((await c.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one).toBe(1);
      });
    } finally {
      await db.close();
    }
  });

  it("refuses a truncated or malformed stream, and non-integers in SQL", () => {
    const header = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);
    const row = Buffer.from([0, 1, 0, 0, 0, 3, 1, 2, 3]);
    const trailer = Buffer.from([0xff, 0xff]);
    expect(parseCopyBinary(Buffer.concat([header, row, trailer]))).toEqual([[Buffer.from([1, 2, 3])]]);
    expect(() => parseCopyBinary(Buffer.concat([header, row]))).toThrow(/trailer/);
    expect(() => parseCopyBinary(Buffer.concat([header, row.subarray(0, 7)]))).toThrow(/truncated/);
    expect(() => parseCopyBinary(Buffer.concat([Buffer.from("PGCOPX"), row]))).toThrow(/signature/);
    expect(() => parseCopyBinary(Buffer.concat([header, trailer, Buffer.from([0])]))).toThrow(/after its trailer/);
    expect(() => sqlInteger(1.5)).toThrow();
    expect(() => sqlInteger(Number.NaN)).toThrow();
  });
});
