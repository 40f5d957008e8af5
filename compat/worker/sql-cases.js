// ctx.storage.sql: exec, every cursor method, the counters, bindings and the
// errors, run in order on one fresh object (GET /room/<name>/sql).
import { attempt, runCases } from "./capture.js";

/**
 * What a cursor tells after it was read to the end. The exact counters are
 * compared in "counters" only (docs/compatibility.md, row `ctx.storage.sql`);
 * here, whether the statement wrote.
 */
function drain(cursor) {
  const rows = cursor.toArray();
  return { rows, columnNames: cursor.columnNames, wrote: cursor.rowsWritten > 0 };
}

/** rowsRead and rowsWritten of typical statements on a table without an index. */
function counters(sql) {
  const count = (query, ...bindings) => {
    const c = sql.exec(query, ...bindings);
    c.toArray();
    return [c.rowsRead, c.rowsWritten];
  };
  return {
    createTable: count("CREATE TABLE counted (id INTEGER PRIMARY KEY, v TEXT)"),
    insert3: count("INSERT INTO counted (v) VALUES ('a'), ('b'), ('c')"),
    selectAll: count("SELECT * FROM counted"),
    selectById: count("SELECT * FROM counted WHERE id = 2"),
    update2: count("UPDATE counted SET v = 'x' WHERE id <= 2"),
    updateNone: count("UPDATE counted SET v = 'y' WHERE v = 'none'"),
    delete1: count("DELETE FROM counted WHERE id = 3"),
    selectConstant: count("SELECT 1"),
  };
}

/**
 * rowsRead and rowsWritten where workerd counts b-tree operations: index
 * entries, UNIQUE constraints, AUTOINCREMENT's sqlite_sequence, UPDATE of
 * indexed and unindexed columns, DELETE, DDL and triggers.
 */
function btreeCounters(sql) {
  const count = (query, ...bindings) => {
    try {
      const c = sql.exec(query, ...bindings);
      c.toArray();
      return [c.rowsRead, c.rowsWritten];
    } catch (error) {
      return error.message;
    }
  };
  return {
    createIndexed: count("CREATE TABLE ix (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT)"),
    createIndex: count("CREATE INDEX ix_a ON ix (a)"),
    insertTwoIndexed: count("INSERT INTO ix (a, b, c) VALUES ('a1', 'b1', 'c1'), ('a2', 'b2', 'c2')"),
    createIndexOnRows: count("CREATE INDEX ix_b ON ix (b)"),
    insertOneTwoIndexes: count("INSERT INTO ix (a, b, c) VALUES (?, ?, ?)", "a3", "b3", "c3"),
    updateIndexed: count("UPDATE ix SET a = 'a9' WHERE id = 1"),
    updateUnindexed: count("UPDATE ix SET c = 'c9' WHERE id = 1"),
    updateBothIndexed: count("UPDATE ix SET a = 'a8', b = 'b8' WHERE id = 2"),
    updateAllUnindexed: count("UPDATE ix SET c = 'all'"),
    updateByIndex: count("UPDATE ix SET c = 'byindex' WHERE a = 'a3'"),
    selectByIndex: count("SELECT id FROM ix WHERE a = 'a3'"),
    selectCount: count("SELECT count(*) FROM ix"),
    deleteIndexed: count("DELETE FROM ix WHERE id = 3"),
    createUnique: count("CREATE TABLE uq (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT)"),
    insertUnique: count("INSERT INTO uq (email, name) VALUES ('x@y', 'x'), ('z@y', 'z')"),
    insertOrIgnoreDuplicate: count("INSERT OR IGNORE INTO uq (email, name) VALUES ('x@y', 'again')"),
    createAutoincrement: count("CREATE TABLE ai (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)"),
    insertAutoincrement3: count("INSERT INTO ai (v) VALUES ('a'), ('b'), ('c')"),
    insertAutoincrement1: count("INSERT INTO ai (v) VALUES ('d')"),
    createLog: count("CREATE TABLE audit (what TEXT)"),
    createTrigger: count("CREATE TRIGGER ai_audit AFTER INSERT ON ai BEGIN INSERT INTO audit (what) VALUES (new.v); END"),
    insertWithTrigger: count("INSERT INTO ai (v) VALUES ('e'), ('f')"),
    deleteAll: count("DELETE FROM audit"),
    deleteWhereScan: count("DELETE FROM ix WHERE c = 'all'"),
  };
}

export function sqlCases(storage) {
  const sql = storage.sql;
  const exec = (...args) => drain(sql.exec(...args));
  return runCases([
    ["createTable", () => exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n REAL, b BLOB)")],
    ["createIndex", () => exec("CREATE INDEX t_v ON t (v)")],
    ["insert3", () => exec("INSERT INTO t (id, v, n) VALUES (1, 'one', 1.5), (2, 'two', 2), (3, 'three', NULL)")],
    ["insertBound", () => exec("INSERT INTO t (id, v, n, b) VALUES (?, ?, ?, ?)", 4, "four", 4.25, new Uint8Array([9, 8]))],
    ["insertArrayBuffer", () => exec("INSERT INTO t (id, b) VALUES (?, ?)", 5, new Uint8Array([7]).buffer)],
    ["insertBooleans", () => exec("INSERT INTO t (id, v, n) VALUES (?, ?, ?)", 6, true, false)],
    ["booleanTypes", () => exec("SELECT v, typeof(v) AS tv, n, typeof(n) AS tn FROM t WHERE id = 6")],
    ["insertNull", () => exec("INSERT INTO t (id, v) VALUES (?, ?)", 7, null)],
    ["selectAll", () => exec("SELECT * FROM t ORDER BY id")],
    ["selectWhere", () => exec("SELECT v FROM t WHERE id > ?", 2)],
    ["selectByIndex", () => exec("SELECT id FROM t WHERE v = ?", "two")],
    ["selectCount", () => exec("SELECT count(*) AS c FROM t")],
    ["update2", () => exec("UPDATE t SET v = 'x' WHERE id IN (1, 2)")],
    ["updateNone", () => exec("UPDATE t SET v = 'y' WHERE id = 99")],
    ["updateAll", () => exec("UPDATE t SET n = 0")],
    ["deleteOne", () => exec("DELETE FROM t WHERE id = 7")],
    ["returning", () => exec("INSERT INTO t (id, v) VALUES (8, 'eight'), (9, 'nine') RETURNING id, v")],
    [
      "returningPartlyRead",
      () => {
        const c = sql.exec("DELETE FROM t WHERE id >= 8 RETURNING id");
        const first = c.next();
        return { first, rest: drain(c) };
      },
    ],
    ["multipleStatements", () => exec("INSERT INTO t (id) VALUES (10); SELECT id FROM t WHERE id = 10; SELECT 'last' AS w")],
    ["multipleStatementsWithBindings", () => exec("SELECT ?; SELECT ?", 1, 2)],
    ["integers", () => exec("SELECT 9007199254740991 AS max, -9007199254740991 AS min, 1.0 AS real1, 0.1 + 0.2 AS sum")],
    ["integerTooBig", () => exec("SELECT 9007199254740993 AS big")],
    ["blob", () => exec("SELECT x'00ff' AS b, zeroblob(2) AS z")],
    ["bindBigInt", () => exec("SELECT ? AS v", 5n)],
    ["bindBigIntHuge", () => exec("SELECT ? AS v", 2n ** 70n)],
    ["bindNaN", () => exec("SELECT ? AS v, typeof(?) AS t", NaN, NaN)],
    ["bindInfinity", () => exec("SELECT ? AS v", Infinity)],
    ["bindUndefined", () => exec("SELECT ? AS v", undefined)],
    ["bindObject", () => exec("SELECT ? AS v", { a: 1 })],
    ["bindArray", () => exec("SELECT ? AS v", [1])],
    ["bindDate", () => exec("SELECT ? AS v", new Date(0))],
    ["bindSymbol", () => exec("SELECT ? AS v", Symbol("s"))],
    ["bindFunction", () => exec("SELECT ? AS v", () => 1)],
    ["bindDataView", () => exec("SELECT ? AS v", new DataView(new ArrayBuffer(2)))],
    ["tooManyBindings", () => exec("SELECT ? AS v", 1, 2)],
    ["tooFewBindings", () => exec("SELECT ?, ? AS v", 1)],
    ["namedParameter", () => exec("SELECT :name AS v", 1)],
    ["numberedParameter", () => exec("SELECT ?2 AS a, ?1 AS b", "one", "two")],
    // cursor methods
    ["one", () => sql.exec("SELECT id FROM t WHERE id = 1").one()],
    ["oneOfNone", () => sql.exec("SELECT id FROM t WHERE id = 99").one()],
    ["oneOfTwo", () => sql.exec("SELECT id FROM t WHERE id IN (1, 2)").one()],
    ["oneOfWrite", () => sql.exec("UPDATE t SET n = 1 WHERE id = 99").one()],
    [
      "raw",
      () => {
        const c = sql.exec("SELECT id, v FROM t WHERE id <= 2 ORDER BY id");
        return { rows: [...c.raw()], columnNames: c.columnNames };
      },
    ],
    ["rawToArray", () => sql.exec("SELECT id, v FROM t WHERE id <= 2 ORDER BY id").raw().toArray()],
    ["rawDuplicateColumns", () => [...sql.exec("SELECT 1 AS a, 2 AS a").raw()]],
    ["duplicateColumns", () => exec("SELECT 1 AS a, 2 AS a")],
    [
      "next",
      () => {
        const c = sql.exec("SELECT id FROM t WHERE id <= 2 ORDER BY id");
        return [c.next(), c.next(), c.next(), c.next()];
      },
    ],
    [
      "iterator",
      () => {
        const c = sql.exec("SELECT id FROM t WHERE id <= 2 ORDER BY id");
        return { isSelf: c[Symbol.iterator]() === c, rows: [...c] };
      },
    ],
    [
      "toArrayTwice",
      () => {
        const c = sql.exec("SELECT id FROM t WHERE id <= 2 ORDER BY id");
        return [c.toArray(), c.toArray()];
      },
    ],
    ["columnNamesBeforeRead", () => sql.exec("SELECT id AS first, v AS second FROM t LIMIT 1").columnNames],
    ["counters", () => counters(sql)],
    ["btreeCounters", () => btreeCounters(sql)],
    ["cursorMethods", () => Object.getOwnPropertyNames(Object.getPrototypeOf(sql.exec("SELECT 1"))).sort()],
    [
      "cursorAfterNewExec",
      () => {
        const a = sql.exec("SELECT id FROM t WHERE id <= 2 ORDER BY id");
        a.next();
        sql.exec("SELECT 1");
        return drain(a);
      },
    ],
    ["emptyResultColumns", () => exec("SELECT id, v FROM t WHERE id = 99")],
    ["pragmaTableList", () => exec("PRAGMA table_info(t)")],
    // errors
    ["syntaxError", () => sql.exec("SELEC 1")],
    ["syntaxErrorLater", () => sql.exec("SELECT * FORM t")],
    ["noSuchTable", () => sql.exec("SELECT * FROM missing")],
    ["noSuchColumn", () => sql.exec("SELECT nope FROM t")],
    ["uniqueViolation", () => sql.exec("INSERT INTO t (id) VALUES (1)")],
    [
      "notNullViolation",
      () => {
        sql.exec("CREATE TABLE nn (x TEXT NOT NULL)");
        return sql.exec("INSERT INTO nn VALUES (NULL)");
      },
    ],
    [
      "checkViolation",
      () => {
        sql.exec("CREATE TABLE ck (x INTEGER CHECK (x > 0))");
        return sql.exec("INSERT INTO ck VALUES (0)");
      },
    ],
    ["tableExists", () => sql.exec("CREATE TABLE t (x)")],
    ["emptyQuery", () => exec("")],
    ["whitespaceQuery", () => exec("   ")],
    ["commentOnly", () => exec("-- nothing")],
    ["queryNotString", () => exec(5)],
    ["noArguments", () => sql.exec()],
    ["begin", () => sql.exec("BEGIN TRANSACTION")],
    ["commit", () => sql.exec("COMMIT")],
    ["savepoint", () => sql.exec("SAVEPOINT sp")],
    ["release", () => sql.exec("RELEASE sp")],
    ["rollbackStatement", () => sql.exec("ROLLBACK")],
    ["cfTable", () => sql.exec("SELECT * FROM _cf_KV")],
    ["cfTableCreate", () => sql.exec("CREATE TABLE _cf_mine (x)")],
    ["attach", () => sql.exec("ATTACH DATABASE 'x.db' AS x")],
    ["pragmaJournal", () => sql.exec("PRAGMA journal_mode = DELETE")],
    [
      "failedStatementRolledBack",
      () => {
        attempt(() => sql.exec("INSERT INTO t (id) VALUES (20), (1)"));
        return exec("SELECT count(*) AS c FROM t WHERE id = 20");
      },
    ],
    [
      "failedMultiStatement",
      () => {
        attempt(() => sql.exec("INSERT INTO t (id) VALUES (21); INSERT INTO t (id) VALUES (1)"));
        return exec("SELECT count(*) AS c FROM t WHERE id = 21");
      },
    ],
    ["databaseSizeType", () => typeof sql.databaseSize],
    [
      "databaseSizeGrows",
      () => {
        const before = sql.databaseSize;
        sql.exec("CREATE TABLE grow (x)");
        sql.exec("INSERT INTO grow VALUES (?)", "g".repeat(50_000));
        return sql.databaseSize > before;
      },
    ],
    ["databaseSizeMultipleOfPage", () => sql.databaseSize % 4096],
    // SQL and KV in one transactionSync
    [
      "transactionSyncRollsBackSql",
      () => {
        attempt(() =>
          storage.transactionSync(() => {
            sql.exec("INSERT INTO t (id) VALUES (30)");
            throw new Error("undo");
          }),
        );
        return exec("SELECT count(*) AS c FROM t WHERE id = 30");
      },
    ],
  ]);
}
