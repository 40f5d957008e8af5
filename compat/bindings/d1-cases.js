// D1 (env.DB): prepare/bind/first/all/raw/run, batch, exec, withSession,
// meta fields and errors, run in order on one fresh database (GET /d1).
// Meta fields that depend on timing, on the server's name or on SQLite's
// storage layout (duration, served_by, size_after) and the row counters
// (workerd counts b-tree steps: see the `counters` case) are reported by type;
// everything else by value.
import { runCases } from "../worker/capture.js";

/** A D1 result with its timing, layout and counter fields reduced to their types. */
function stable(result) {
  if (result === null || typeof result !== "object" || !("meta" in result)) return result;
  const meta = { ...result.meta };
  for (const key of ["duration", "served_by", "size_after", "rows_read", "rows_written"]) if (key in meta) meta[key] = typeof meta[key];
  if (meta.timings !== undefined) meta.timings = Object.fromEntries(Object.entries(meta.timings).map(([k, v]) => [k, typeof v]));
  return { ...result, meta };
}
const stableAll = (results) => results.map(stable);

/** Runs `fn`; a rejection's message is cut to its first line (Miniflare appends a stack trace naming local paths). */
async function firstLine(fn) {
  try {
    return await fn();
  } catch (error) {
    throw new error.constructor(String(error.message).split("\n")[0]);
  }
}

/** rows_read / rows_written of a few statements (compared exactly: a known difference). */
async function counters(db) {
  const out = {};
  for (const [label, sql] of [
    ["insert", "INSERT INTO counted (v) VALUES (1), (2), (3)"],
    ["selectAll", "SELECT * FROM counted"],
    ["selectOne", "SELECT * FROM counted WHERE id = 2"],
    ["update", "UPDATE counted SET v = v + 1 WHERE v > 1"],
    ["delete", "DELETE FROM counted WHERE id = 1"],
  ]) {
    const { meta } = await db.prepare(sql).run();
    out[label] = [meta.rows_read, meta.rows_written];
  }
  return out;
}

export function d1Cases(db) {
  return runCases([
    [
      "execCreate",
      async () => {
        const r = await db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data BLOB, flag INTEGER)");
        return { count: r.count, duration: typeof r.duration, keys: Object.keys(r) };
      },
    ],
    [
      "execMultiLine",
      async () => {
        const r = await db.exec("CREATE TABLE t2 (x)\n\nINSERT INTO t2 VALUES (1)\n-- a comment\nINSERT INTO t2 VALUES (2)");
        return { count: r.count, duration: typeof r.duration };
      },
    ],
    ["execErrorLine", () => db.exec("INSERT INTO t2 VALUES (3)\nINSERT INTO nope VALUES (1)\nINSERT INTO t2 VALUES (4)")],
    ["execRolledBack", async () => (await db.prepare("SELECT x FROM t2 ORDER BY x").raw()).flat()],
    ["execEmpty", () => db.exec("")],
    [
      "execTwoOnOneLine",
      async () => {
        const r = await db.exec("INSERT INTO t2 VALUES (5); INSERT INTO t2 VALUES (6)");
        return { count: r.count };
      },
    ],
    ["execSyntaxError", () => db.exec("SELEC 1")],
    ["execNotString", () => db.exec(5)],
    // run / all / first / raw
    [
      "runInsert",
      async () =>
        stable(
          await db
            .prepare("INSERT INTO users (name, score, data, flag) VALUES (?, ?, ?, ?)")
            .bind("ada", 9.5, new Uint8Array([1, 2, 3]), true)
            .run(),
        ),
    ],
    ["runInsert2", async () => stable(await db.prepare("INSERT INTO users (name, score) VALUES (?1, ?2)").bind("bob", 7).run())],
    ["runSelect", async () => stable(await db.prepare("SELECT id, name FROM users ORDER BY id").run())],
    ["all", async () => stable(await db.prepare("SELECT * FROM users ORDER BY id").all())],
    ["allEmpty", async () => stable(await db.prepare("SELECT * FROM users WHERE id < 0").all())],
    ["allKeys", async () => Object.keys(await db.prepare("SELECT 1").all())],
    ["metaKeys", async () => Object.keys((await db.prepare("SELECT 1").all()).meta)],
    ["first", () => db.prepare("SELECT name, score FROM users ORDER BY id").first()],
    ["firstColumn", () => db.prepare("SELECT name, score FROM users ORDER BY id").first("name")],
    ["firstColumnNull", () => db.prepare("SELECT NULL AS n").first("n")],
    ["firstColumnMissing", () => db.prepare("SELECT name FROM users ORDER BY id").first("nope")],
    ["firstNoRows", () => db.prepare("SELECT name FROM users WHERE id < 0").first()],
    ["firstNoRowsColumn", () => db.prepare("SELECT name FROM users WHERE id < 0").first("name")],
    ["raw", () => db.prepare("SELECT id, name, data FROM users ORDER BY id").raw()],
    ["rawColumnNames", () => db.prepare("SELECT id, name FROM users ORDER BY id").raw({ columnNames: true })],
    ["rawColumnNamesEmpty", () => db.prepare("SELECT id, name FROM users WHERE id < 0").raw({ columnNames: true })],
    [
      "duplicateColumns",
      async () => ({ all: (await db.prepare("SELECT 1 AS a, 2 AS a").all()).results, raw: await db.prepare("SELECT 1 AS a, 2 AS a").raw() }),
    ],
    [
      "statementFields",
      () => {
        const s = db.prepare("SELECT ?").bind(1);
        return { statement: s.statement, params: s.params, ctor: s.constructor.name };
      },
    ],
    [
      "bindReturnsNew",
      async () => {
        const s = db.prepare("SELECT ? AS v");
        const b = s.bind(2);
        return { same: s === b, bound: await b.first("v"), unbound: await s.first("v").catch((e) => e.message) };
      },
    ],
    // values and bindings
    [
      "bindTypes",
      async () =>
        (
          await db
            .prepare("SELECT ? AS i, ? AS f, ? AS s, ? AS n, ? AS t, ? AS fa, ? AS nan, ? AS inf")
            .bind(42, 1.5, "x", null, true, false, Number.NaN, Number.POSITIVE_INFINITY)
            .all()
        ).results,
    ],
    [
      "bindTypeof",
      async () =>
        (await db.prepare("SELECT typeof(?) AS a, typeof(?) AS b, typeof(?) AS c, typeof(?) AS d, typeof(?) AS e").bind(42, 1.5, 1.0, true, "7").all()).results,
    ],
    [
      "bindBlobs",
      async () =>
        (
          await db
            .prepare("SELECT ? AS ab, ? AS u8, ? AS u16, ? AS arr, typeof(?) AS t")
            .bind(new Uint8Array([9, 8]).buffer, new Uint8Array([1, 255]), new Uint16Array([1, 256]), [3, 4], new Uint8Array([7]))
            .all()
        ).results,
    ],
    ["bindArrayNotBytes", () => db.prepare("SELECT ?").bind([1, 256])],
    ["bindUndefined", () => db.prepare("SELECT ?").bind(undefined)],
    ["bindObject", () => db.prepare("SELECT ?").bind({ a: 1 })],
    ["bindBigInt", () => db.prepare("SELECT ?").bind(10n)],
    ["bindDate", () => db.prepare("SELECT ?").bind(new Date(0))],
    ["bindFunction", () => db.prepare("SELECT ?").bind(() => 1)],
    ["bindTooFew", () => db.prepare("SELECT ?, ?").bind(1).all()],
    ["bindTooMany", () => db.prepare("SELECT ?").bind(1, 2).all()],
    ["bindNone", () => db.prepare("SELECT ?").all()],
    ["bindNumbered", async () => (await db.prepare("SELECT ?2 AS b, ?1 AS a").bind("one", "two").all()).results],
    ["bindNamed", async () => (await db.prepare("SELECT :x AS x, :y AS y").bind("X", "Y").all()).results],
    ["bigIntegers", async () => (await db.prepare("SELECT 9007199254740993 AS big, -9007199254740993 AS small, 1.0 AS one, 2.5e300 AS huge").all()).results],
    ["realColumn", async () => (await db.prepare("SELECT score FROM users ORDER BY id").raw()).flat()],
    ["unicode", async () => (await db.prepare("SELECT ? AS s, length(?) AS n").bind("h\u00e9\u{1f600}", "h\u00e9\u{1f600}").all()).results],
    // errors
    ["syntaxError", () => db.prepare("SELEC 1").all()],
    ["noSuchTable", () => db.prepare("SELECT * FROM nope").all()],
    ["noSuchColumn", () => db.prepare("SELECT nope FROM users").all()],
    ["notNull", () => db.prepare("INSERT INTO users (name) VALUES (NULL)").run()],
    ["unique", () => db.prepare("INSERT INTO users (name) VALUES ('ada')").run()],
    [
      "errorShape",
      async () => {
        try {
          await db.prepare("SELECT * FROM nope").all();
          return "no error";
        } catch (e) {
          return {
            ctor: e.constructor.name,
            message: e.message,
            cause: e.cause instanceof Error ? { ctor: e.cause.constructor.name, message: e.cause.message } : String(e.cause),
            keys: Object.keys(e),
          };
        }
      },
    ],
    ["emptyStatement", () => db.prepare("").all()],
    ["commentOnly", () => db.prepare("-- nothing").all()],
    ["commentThenSelect", async () => (await db.prepare("-- hello\nSELECT 1 AS one").all()).results],
    ["twoStatements", async () => stable(await db.prepare("SELECT 1 AS a; SELECT 2 AS b").all())],
    ["twoStatementsParams", () => db.prepare("SELECT ? AS a; SELECT ? AS b").bind(1, 2).all()],
    ["beginTransaction", () => db.prepare("BEGIN TRANSACTION").run()],
    ["savepoint", () => db.prepare("SAVEPOINT x").run()],
    ["pragmaTableList", async () => (await db.prepare("PRAGMA table_list").all()).results.map((r) => r.name).sort()],
    ["pragmaForeignKeys", async () => (await db.prepare("PRAGMA foreign_keys").all()).results],
    ["pragmaJournalMode", () => db.prepare("PRAGMA journal_mode").all()],
    ["cfTable", () => db.prepare("SELECT * FROM _cf_KV").all()],
    ["sqliteMaster", async () => (await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").raw()).flat()],
    ["attach", () => db.prepare("ATTACH DATABASE ':memory:' AS other").run()],
    ["prepareNumber", () => firstLine(() => db.prepare(5).all())],
    ["prepareNoArgument", () => firstLine(() => db.prepare().all())],
    // run's meta for writes
    ["runUpdate", async () => stable(await db.prepare("UPDATE users SET score = score + 1").run())],
    ["runUpdateNone", async () => stable(await db.prepare("UPDATE users SET score = 0 WHERE id < 0").run())],
    ["runDelete", async () => stable(await db.prepare("DELETE FROM users WHERE name = ?").bind("bob").run())],
    ["runCreateIndex", async () => stable(await db.prepare("CREATE INDEX users_score ON users (score)").run())],
    // batch
    [
      "batch",
      async () =>
        stableAll(
          await db.batch([
            db.prepare("INSERT INTO users (name) VALUES (?)").bind("cy"),
            db.prepare("UPDATE users SET flag = 0 WHERE name = ?").bind("cy"),
            db.prepare("SELECT name, flag FROM users ORDER BY id"),
          ]),
        ),
    ],
    [
      "batchFailsWhole",
      () => db.batch([db.prepare("INSERT INTO users (name) VALUES (?)").bind("dee"), db.prepare("INSERT INTO users (name) VALUES (?)").bind("ada")]),
    ],
    ["batchRolledBack", () => db.prepare("SELECT count(*) AS n FROM users WHERE name = 'dee'").first("n")],
    ["batchEmpty", () => db.batch([])],
    ["batchNotArray", () => db.batch(db.prepare("SELECT 1"))],
    ["batchNotStatements", () => firstLine(() => db.batch(["SELECT 1"]))],
    [
      "batchCreateThenUse",
      async () => stableAll(await db.batch([db.prepare("CREATE TABLE t3 (y)"), db.prepare("INSERT INTO t3 VALUES (1)"), db.prepare("SELECT * FROM t3")])),
    ],
    ["batchSyntaxErrorSecond", () => db.batch([db.prepare("INSERT INTO t3 VALUES (2)"), db.prepare("SELEC")])],
    ["batchSyntaxRolledBack", () => db.prepare("SELECT count(*) AS n FROM t3").first("n")],
    // sessions
    [
      "sessionDefault",
      async () => {
        const s = db.withSession();
        const before = s.getBookmark();
        const r = await s.prepare("SELECT count(*) AS n FROM users").first("n");
        const after = s.getBookmark();
        return { before, r, after: typeof after, ctor: s.constructor.name, methods: ["batch", "getBookmark", "prepare", "exec"].map((m) => typeof s[m]) };
      },
    ],
    [
      "sessionFirstPrimary",
      async () => {
        const s = db.withSession("first-primary");
        const before = s.getBookmark();
        const r = await s.batch([s.prepare("SELECT 1 AS one")]);
        return { before, results: r[0].results, after: typeof s.getBookmark() };
      },
    ],
    [
      "sessionBookmark",
      async () => {
        const first = db.withSession();
        await first.prepare("INSERT INTO users (name) VALUES ('eve')").run();
        const bookmark = first.getBookmark();
        const second = db.withSession(bookmark);
        const before = second.getBookmark() === bookmark;
        const n = await second.prepare("SELECT count(*) AS n FROM users WHERE name = 'eve'").first("n");
        return { before, n };
      },
    ],
    ["sessionBlank", () => db.withSession("   ").getBookmark()],
    ["sessionNoExec", () => typeof db.withSession().exec],
    [
      "counters",
      async () => {
        await db.exec("CREATE TABLE counted (id INTEGER PRIMARY KEY, v INTEGER)");
        return counters(db);
      },
    ],
    ["dump", () => firstLine(() => db.dump())],
    ["databaseMethods", () => Object.getOwnPropertyNames(Object.getPrototypeOf(db)).sort()],
    ["statementMethods", () => Object.getOwnPropertyNames(Object.getPrototypeOf(db.prepare("SELECT 1"))).sort()],
  ]);
}
