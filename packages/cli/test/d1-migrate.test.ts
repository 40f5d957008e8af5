/**
 * `torpor d1 migrate` on a project laid out as wrangler lays it out, with real
 * processes: migrations apply in order, once; a failing one stops with exit 1
 * and leaves the earlier ones; `torpor dev` then serves the migrated data.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { project, runTorpor, startTorpor } from "./helpers.ts";

const worker = `export default {
  async fetch(request, env) {
    const { results } = await env.DB.prepare("SELECT name FROM users ORDER BY id").all();
    return Response.json(results.map((r) => r.name));
  },
};
`;

it("applies wrangler's migrations folder in order, once; a failure exits 1 and keeps the earlier ones; dev serves the result", {
  timeout: 120_000,
}, async () => {
  const dir = project({
    "wrangler.jsonc": JSON.stringify({
      main: "worker.js",
      compatibility_date: "2026-04-07",
      d1_databases: [{ binding: "DB", database_name: "app", database_id: "0b7a5c6e-2d1f-4c3b-9a8e-7f6d5c4b3a21" }],
    }),
    "worker.js": worker,
  });
  mkdirSync(join(dir, "migrations"));
  writeFileSync(join(dir, "migrations", "0001_create.sql"), "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n");
  writeFileSync(join(dir, "migrations", "0002_seed.sql"), "INSERT INTO users (name) VALUES ('ada');\nINSERT INTO users (name) VALUES ('bob');\n");

  const first = await runTorpor(["d1", "migrate", "app"], dir);
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  expect(first.stdout).toContain("applied 0001_create.sql\n  applied 0002_seed.sql\n");

  const again = await runTorpor(["d1", "migrate"], dir);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("no migrations to apply");

  writeFileSync(join(dir, "migrations", "0003_more.sql"), "INSERT INTO users (name) VALUES ('cy');\n");
  writeFileSync(join(dir, "migrations", "0004_broken.sql"), "INSERT INTO users (name) VALUES ('dee');\nINSERT INTO users (name) VALUES (NULL);\n");
  const broken = await runTorpor(["d1", "migrate", "DB"], dir);
  expect(broken.code).toBe(1);
  expect(broken.stdout).toContain("applied 0003_more.sql");
  expect(broken.stderr).toBe(
    "torpor: Migration 0004_broken.sql failed: D1_ERROR: NOT NULL constraint failed: users.name: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL) (DB); the migrations before it stay applied. Fix the file and run torpor d1 migrate again.\n",
  );

  const server = await startTorpor(["dev", "--port", "0"], dir);
  try {
    expect(await (await fetch(server.url)).json()).toEqual(["ada", "bob", "cy"]);
  } finally {
    expect(await server.stop()).toBe(0);
  }

  const unknown = await runTorpor(["d1", "migrate", "nope"], dir);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('No D1 database named "nope"');
  expect(unknown.stderr).toContain("it has DB (app)");
});

it("says where migrations were looked for when the folder is missing", { timeout: 60_000 }, async () => {
  const dir = project({
    "wrangler.toml": '[[d1_databases]]\nbinding = "DB"\ndatabase_id = "x"\nmigrations_dir = "db/migrations"\n',
  });
  const result = await runTorpor(["d1", "migrate"], dir);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(
    `torpor: No migrations present at ${join(dir, "db", "migrations")} (for DB). Create it with your NNNN_name.sql files, or set "migrations_dir" on the binding.\n`,
  );
});
