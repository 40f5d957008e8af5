import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import type { BoundValues } from "../src/binding-plugin.ts";
import type { D1Database } from "../src/d1/d1-api.ts";
import { applyMigrations, compareMigrationNames, migrationFiles, migrationQueries, migrationsLayout, readD1Migrations } from "../src/d1/d1-migrations.ts";
import { d1Plugin, type D1Config } from "../src/d1/d1-plugin.ts";
import { bindingContext, tempDir } from "./helpers.ts";

const open: BoundValues[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

async function bind(config: D1Config, dataDir = tempDir()): Promise<{ env: Record<string, D1Database>; bound: BoundValues; dataDir: string }> {
  const bound = await d1Plugin.create(config, bindingContext(dataDir));
  open.push(bound);
  return { env: bound.env as Record<string, D1Database>, bound, dataDir };
}

test("a database lives in <data dir>/d1/<id>.sqlite (preview_database_id, else database_id, else binding) and survives reopening", async () => {
  const first = await bind([
    { binding: "DB", database_name: "app", database_id: "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29" },
    { binding: "PREVIEW", database_id: "x", preview_database_id: "p" },
    { binding: "NOID" },
  ]);
  await first.env.DB!.exec("CREATE TABLE t (v TEXT)");
  await first.env.DB!.prepare("INSERT INTO t VALUES (?)").bind("kept").run();
  await first.env.PREVIEW!.exec("CREATE TABLE p (v)");
  await first.env.NOID!.exec("CREATE TABLE n (v)");
  await first.bound.close();
  open.pop();
  for (const file of ["4e1c28a9-90e4-41da-8b4b-6cf36e5abb29.sqlite", "p.sqlite", "NOID.sqlite"]) expect(existsSync(join(first.dataDir, "d1", file))).toBe(true);
  const again = await bind([{ binding: "OTHER", database_id: "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29" }], first.dataDir);
  expect(await again.env.OTHER!.prepare("SELECT v FROM t").first("v")).toBe("kept");
});

test("a failed batch leaves nothing behind, on disk too", async () => {
  const { env, bound, dataDir } = await bind([{ binding: "DB", database_id: "atomic" }]);
  const db = env.DB!;
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  await expect(db.batch([db.prepare("INSERT INTO t (v) VALUES ('a')"), db.prepare("INSERT INTO t (v) VALUES (NULL)")])).rejects.toThrow(
    "D1_ERROR: NOT NULL constraint failed: t.v: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL)",
  );
  await bound.close();
  open.pop();
  const again = await bind([{ binding: "DB", database_id: "atomic" }], dataDir);
  expect(await again.env.DB!.prepare("SELECT count(*) AS n FROM t").first("n")).toBe(0);
});

test("a session's bookmark only moves forward, and a bookmark opens a new session", async () => {
  const { env } = await bind([{ binding: "DB" }]);
  const session = env.DB!.withSession("first-primary");
  expect(session.getBookmark()).toBeNull();
  await session.prepare("SELECT 1").run();
  const first = session.getBookmark()!;
  await session.prepare("SELECT 2").run();
  const second = session.getBookmark()!;
  expect(first.localeCompare(second)).toBeLessThan(0);
  expect(env.DB!.withSession(second).getBookmark()).toBe(second);
  expect(() => env.DB!.withSession(5 as unknown as string)).toThrow(new TypeError("constraintOrBookmark?.trim is not a function"));
});

test("migrations: wrangler's layout, order and pattern; each applied once, in its own transaction", async () => {
  const root = tempDir();
  const dir = join(root, "migrations");
  mkdirSync(join(dir, "0003_nested"), { recursive: true });
  writeFileSync(join(dir, "0001_init.sql"), "-- the first\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n");
  writeFileSync(join(dir, "10_late.sql"), "INSERT INTO users (name) VALUES ('ten');");
  writeFileSync(
    join(dir, "2_seed.sql"),
    "BEGIN TRANSACTION;\nINSERT INTO users (name) VALUES ('two');\nINSERT INTO users (name) VALUES ('semi;colon');\nCOMMIT;\n",
  );
  writeFileSync(join(dir, "notes.txt"), "not a migration");
  writeFileSync(join(dir, "0003_nested", "migration.sql"), "SELECT 1;");
  const layout = migrationsLayout({ binding: "DB" }, root);
  expect(layout).toEqual({ dir, pattern: "*.sql", table: "d1_migrations" });
  if (typeof layout === "string") throw new Error(layout);
  expect(migrationFiles(layout)).toEqual(["0001_init.sql", "2_seed.sql", "10_late.sql"]);
  expect(migrationFiles({ ...layout, pattern: "*/migration.sql" })).toEqual(["0003_nested/migration.sql"]);
  expect(migrationsLayout({ binding: "DB", migrations_pattern: "x/*.sql" }, root)).toMatch(/without "migrations_dir"/);
  expect(migrationsLayout({ binding: "DB", migrations_dir: "m", migrations_pattern: "x/*.sql" }, root)).toMatch(/must start with "m\/"/);
  expect(migrationQueries("BEGIN TRANSACTION;\nCREATE TABLE a (x);\nCOMMIT;")).toEqual(["CREATE TABLE a (x)"]);
  expect(() => migrationQueries("BEGIN TRANSACTION; COMMIT; BEGIN TRANSACTION; COMMIT;")).toThrow(/several transactions/);
  expect(compareMigrationNames("a.sql", "1_b.sql")).toBeGreaterThan(0);

  const { env } = await bind([{ binding: "DB" }]);
  const migrations = readD1Migrations(dir);
  expect(migrations.map((m) => m.name)).toEqual(["0001_init.sql", "2_seed.sql", "10_late.sql"]);
  expect(await applyMigrations(env.DB!, migrations)).toEqual(["0001_init.sql", "2_seed.sql", "10_late.sql"]);
  expect(await applyMigrations(env.DB!, migrations)).toEqual([]);
  expect((await env.DB!.prepare("SELECT name FROM users ORDER BY id").raw()).flat()).toEqual(["two", "semi;colon", "ten"]);
  expect(await env.DB!.prepare("SELECT id, name FROM d1_migrations ORDER BY id").raw()).toEqual([
    [1, "0001_init.sql"],
    [2, "2_seed.sql"],
    [3, "10_late.sql"],
  ]);
  // A failing migration leaves the earlier ones applied and itself not at all.
  const failing = [...migrations, { name: "11_bad.sql", queries: ["INSERT INTO users (name) VALUES ('eleven')", "INSERT INTO nope VALUES (1)"] }];
  await expect(applyMigrations(env.DB!, failing, "d1_migrations")).rejects.toThrow("Migration 11_bad.sql failed: D1_ERROR: no such table: nope: SQLITE_ERROR");
  expect(await env.DB!.prepare("SELECT count(*) AS n FROM users WHERE name = 'eleven'").first("n")).toBe(0);
});
