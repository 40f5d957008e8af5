import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SqlStorage } from "@torpor/core";
import type { ObjectStorage } from "@torpor/core/storage";
import { sqliteStorage, type SqliteStorageProvider } from "../src/index.ts";
import { objectKey, openObject } from "./driver.ts";

let dir: string;
let provider: SqliteStorageProvider;
let storage: ObjectStorage;
let sql: SqlStorage;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "torpor-sql-"));
  provider = sqliteStorage({ dir });
  storage = openObject(provider, objectKey("sql"));
  sql = storage.api.sql;
});
afterEach(() => {
  storage.close();
  provider.close();
  rmSync(dir, { recursive: true, force: true });
});

const errorOf = (fn: () => unknown): { code?: string; message: string; cause?: unknown } => {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error("expected a throw");
};

describe("sql.exec", () => {
  it("returns a cursor with rows, columnNames, rowsRead and rowsWritten", () => {
    sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
    const ins = sql.exec("INSERT INTO t (name, score) VALUES (?, ?), (?, ?)", "a", 1.5, "b", 2);
    expect(ins.rowsWritten).toBe(2);
    const cur = sql.exec<{ id: number; name: string; score: number }>("SELECT * FROM t ORDER BY id");
    expect(cur.columnNames).toEqual(["id", "name", "score"]);
    expect(cur.rowsRead).toBe(2);
    expect(cur.rowsWritten).toBe(0);
    expect(cur.next()).toEqual({ done: false, value: { id: 1, name: "a", score: 1.5 } });
    expect([...cur]).toEqual([{ id: 2, name: "b", score: 2 }]);
    expect(cur.next().done).toBe(true);
    expect(sql.exec("SELECT name FROM t WHERE id = 99").columnNames).toEqual(["name"]);
  });

  it("toArray(), raw() and one()", () => {
    sql.exec("CREATE TABLE t (a, b)");
    sql.exec("INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    expect(sql.exec("SELECT * FROM t ORDER BY a").toArray()).toEqual([
      { a: 1, b: "x" },
      { a: 2, b: "y" },
    ]);
    expect([...sql.exec("SELECT * FROM t ORDER BY a").raw()]).toEqual([
      [1, "x"],
      [2, "y"],
    ]);
    expect(sql.exec("SELECT b FROM t WHERE a = 2").one()).toEqual({ b: "y" });
    expect(errorOf(() => sql.exec("SELECT * FROM t").one()).code).toBe("ERR_SQL_NOT_ONE_ROW");
    expect(errorOf(() => sql.exec("SELECT * FROM t WHERE a > 5").one()).code).toBe("ERR_SQL_NOT_ONE_ROW");
  });

  it("runs several statements and returns the last one's rows", () => {
    const cur = sql.exec(`
      CREATE TABLE t (a); -- a comment; with a semicolon
      INSERT INTO t VALUES (';'), ('it''s');
      SELECT a FROM t ORDER BY a;
    `);
    expect(cur.toArray()).toEqual([{ a: ";" }, { a: "it's" }]);
    sql.exec(`
      CREATE TABLE log (n);
      CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (1); INSERT INTO log VALUES (2); END;
    `);
    sql.exec("INSERT INTO t VALUES ('z')");
    expect(sql.exec("SELECT count(*) AS c FROM log").one()).toEqual({ c: 2 });
  });

  it("binds ArrayBuffer and typed arrays as BLOB and returns ArrayBuffer", () => {
    sql.exec("CREATE TABLE b (v BLOB)");
    sql.exec("INSERT INTO b VALUES (?), (?)", new Uint8Array([1, 2, 3]).buffer, new Uint16Array([0x0201]));
    const rows = sql.exec<{ v: ArrayBuffer }>("SELECT v FROM b").toArray();
    expect(rows[0]!.v).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(rows[0]!.v)]).toEqual([1, 2, 3]);
    expect([...new Uint8Array(rows[1]!.v)]).toEqual([1, 2]);
  });

  it("binds like workerd: booleans as TEXT 'true'/'false', undefined and NaN as NULL, objects as their string, bigint refused", () => {
    expect(sql.exec("SELECT ? AS t, typeof(?) AS tt, ? AS f", true, true, false).one()).toEqual({ t: "true", tt: "text", f: "false" });
    expect(sql.exec("SELECT ? AS u, ? AS n, ? AS o", undefined, Number.NaN, { a: 1 }).one()).toEqual({ u: null, n: null, o: "[object Object]" });
    expect(() => sql.exec("SELECT ?", 5n)).toThrow(new TypeError("Cannot convert a BigInt value to a number"));
    expect(() => sql.exec("SELECT ?, ?", 1)).toThrow(new Error("Wrong number of parameter bindings for SQL query."));
    // Numbered and named parameters are bound by position, as SQLite numbers them.
    expect(sql.exec("SELECT ?2 AS a, ?1 AS b", "one", "two").one()).toEqual({ a: "two", b: "one" });
    expect(sql.exec("SELECT :x AS a, :x AS b, ? AS c", 1, 2).one()).toEqual({ a: 1, b: 1, c: 2 });
  });

  it("refuses transaction statements, pointing at transactionSync", () => {
    for (const q of ["BEGIN", "begin transaction", "COMMIT", "END", "ROLLBACK", "SAVEPOINT x", "RELEASE x", "SELECT 1; COMMIT"]) {
      const err = errorOf(() => sql.exec(q));
      expect(err.code, q).toBe("ERR_SQL_TRANSACTION_STATEMENT");
      expect(err.message).toContain("transactionSync");
    }
  });

  it("protects the runtime's _cf_ tables", async () => {
    await storage.api.put("k", 1);
    for (const q of [
      "SELECT * FROM _cf_KV",
      'DELETE FROM "_CF_kv"',
      "DROP TABLE _cf_METADATA",
      "CREATE TABLE _cf_mine (a)",
      "SELECT 1; UPDATE [_cf_KV] SET value = 1",
    ]) {
      expect(errorOf(() => sql.exec(q)).code, q).toBe("ERR_SQL_RESERVED_NAME");
    }
    expect(sql.exec("SELECT '_cf_KV' AS s").one()).toEqual({ s: "_cf_KV" });
    expect(await storage.api.get("k")).toBe(1);
  });

  it("turns SQLite errors into ERR_SQL with SQLite's message and keeps the object usable", async () => {
    const err = errorOf(() => sql.exec("SELEC 1"));
    expect(err.code).toBe("ERR_SQL");
    expect(err.message).toContain('near "SELEC": syntax error');
    expect(err.cause).toBeInstanceOf(Error);
    expect(errorOf(() => sql.exec("SELECT * FROM missing")).message).toContain("no such table: missing");
    expect(sql.exec("SELECT 1 AS one").one()).toEqual({ one: 1 });
  });

  it("undoes a failing statement only: earlier statements of the exec and earlier writes of the batch stay (as on workerd)", async () => {
    sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
    await storage.api.sync();
    sql.exec("INSERT INTO t VALUES (1)");
    storage.api.kv.put("k", "kept");
    const err = errorOf(() => sql.exec("INSERT INTO t VALUES (4), (1)"));
    expect(err.code).toBe("ERR_SQL");
    expect(err.message).toBe("UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)");
    expect(errorOf(() => sql.exec("INSERT INTO t VALUES (2); INSERT INTO t VALUES (1)")).code).toBe("ERR_SQL");
    expect(sql.exec("SELECT id FROM t ORDER BY id").toArray()).toEqual([{ id: 1 }, { id: 2 }]);
    sql.exec("DELETE FROM t WHERE id = 2");
    expect(storage.hasPendingWrites).toBe(true);
    storage.commit();
    sql.exec("INSERT INTO t VALUES (3)");
    storage.commit();
    expect(sql.exec("SELECT id FROM t ORDER BY id").toArray()).toEqual([{ id: 1 }, { id: 3 }]);
    expect(storage.api.kv.get("k")).toBe("kept");
  });

  it("joins user SQL and KV writes in one batch, undone together by transactionSync", () => {
    sql.exec("CREATE TABLE t (a)");
    storage.commit();
    expect(() =>
      storage.api.transactionSync(() => {
        sql.exec("INSERT INTO t VALUES (1)");
        storage.api.kv.put("k", 1);
        throw new Error("undo");
      }),
    ).toThrow("undo");
    expect(sql.exec("SELECT count(*) AS c FROM t").one()).toEqual({ c: 0 });
    expect(storage.api.kv.get("k")).toBeUndefined();
  });

  it("reads do not open a batch; databaseSize grows", () => {
    sql.exec("SELECT 1");
    expect(storage.hasPendingWrites).toBe(false);
    const before = sql.databaseSize;
    sql.exec("CREATE TABLE big (v)");
    sql.exec("INSERT INTO big SELECT randomblob(1000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200) SELECT x FROM c)");
    storage.commit();
    expect(sql.databaseSize).toBeGreaterThan(before + 100_000);
  });

  it("deleteAll drops user tables too (as on Cloudflare)", async () => {
    sql.exec("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid REFERENCES p (id)); CREATE VIEW v AS SELECT * FROM p");
    sql.exec("INSERT INTO p VALUES (1); INSERT INTO c VALUES (1)");
    await storage.api.put("k", 1);
    storage.commit();
    await storage.api.deleteAll();
    storage.commit();
    expect(sql.exec("SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").toArray()).toEqual([]);
    expect(await storage.api.list()).toEqual(new Map());
  });
});
