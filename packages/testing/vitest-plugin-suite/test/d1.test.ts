import { applyD1Migrations, env } from "cloudflare:test";
import { expect, test } from "vitest";

test("D1 from the wrangler config, migrated with readD1Migrations + applyD1Migrations", async () => {
  expect(env.TEST_MIGRATIONS.map((m: { name: string }) => m.name)).toEqual(["0001_notes.sql", "0002_seed.sql"]);
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
  // Applied once: a second call finds them recorded.
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
  expect(await env.DB.prepare("SELECT text FROM notes").all()).toMatchObject({ success: true, results: [{ text: "first" }] });
  expect((await env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id").raw()).flat()).toEqual(["0001_notes.sql", "0002_seed.sql"]);
});

test("applyD1Migrations checks its arguments as Cloudflare's does", async () => {
  await expect(applyD1Migrations({} as never, [])).rejects.toThrow(
    new TypeError("Failed to execute 'applyD1Migrations': parameter 1 is not of type 'D1Database'."),
  );
  await expect(applyD1Migrations(env.DB, [{ name: 1 }] as never)).rejects.toThrow(
    new TypeError("Failed to execute 'applyD1Migrations': parameter 2 is not of type 'D1Migration[]'."),
  );
});

test("a failing migration rejects with D1's error and is not recorded", async () => {
  await expect(applyD1Migrations(env.DB, [{ name: "bad.sql", queries: ["INSERT INTO nowhere VALUES (1)"] }], "other_migrations")).rejects.toThrow(
    "D1_ERROR: no such table: nowhere: SQLITE_ERROR",
  );
  expect(await env.DB.prepare("SELECT count(*) AS n FROM other_migrations").first("n")).toBe(0);
});
