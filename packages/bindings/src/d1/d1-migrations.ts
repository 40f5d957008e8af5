import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, resolve } from "node:path";
import { splitStatements } from "@torpor/storage-sqlite/sql";
import type { D1Database } from "./d1-api.ts";
import type { D1DatabaseConfig } from "./d1-plugin.ts";

/** One migration as Cloudflare's vitest integration passes it: its file name and its statements. */
export interface D1Migration {
  name: string;
  queries: string[];
}

/** wrangler's defaults: `migrations/` beside the config, applied ones recorded in `d1_migrations`. */
export const DEFAULT_MIGRATIONS_DIR = "migrations";
export const DEFAULT_MIGRATIONS_TABLE = "d1_migrations";

/** Where one database's migrations are, as `wrangler d1 migrations apply` finds them. */
export interface MigrationsLayout {
  /** The migrations folder (absolute). */
  dir: string;
  /** The pattern files must match, relative to the config's folder (`migrations/*.sql` by default). */
  pattern: string;
  table: string;
}

function normalize(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, "/"));
  return n.endsWith("/") && n !== "/" ? n.slice(0, -1) : n;
}

/**
 * The layout for a `d1_databases` entry: `migrations_dir` (default `migrations`), `migrations_pattern`
 * (default `<dir>/*.sql`; it must lie under the folder) and `migrations_table` (default `d1_migrations`).
 * Returns an error message instead when the pattern is not under the folder, as wrangler refuses it.
 */
export function migrationsLayout(entry: D1DatabaseConfig, configDir: string): MigrationsLayout | string {
  const dir = normalize(entry.migrations_dir ?? DEFAULT_MIGRATIONS_DIR);
  let pattern = `${dir === "." ? "" : `${dir}/`}*.sql`;
  if (entry.migrations_pattern !== undefined) {
    if (entry.migrations_dir === undefined)
      return `"migrations_pattern" is set for ${entry.binding} without "migrations_dir"; set both (for example "migrations_dir": "migrations").`;
    pattern = normalize(entry.migrations_pattern);
    if (dir !== "." && !pattern.startsWith(`${dir}/`))
      return `"migrations_pattern" ("${entry.migrations_pattern}") of ${entry.binding} must start with "${dir}/", its "migrations_dir".`;
  }
  return {
    dir: resolve(configDir, dir),
    pattern: dir === "." ? pattern : pattern.slice(dir.length + 1),
    table: entry.migrations_table ?? DEFAULT_MIGRATIONS_TABLE,
  };
}

/** A glob (`*`, `?`, `**`, path segments separated by `/`) as a regular expression over a whole relative path. */
function globRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` matches any number of folders (none included).
      out += glob[i + 2] === "/" ? "(?:[^/]+/)*" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** The migration's number: the leading integer of its first path segment (NaN when it has none). */
function leadingNumber(name: string): number {
  return Number.parseInt(name.split("/")[0]!.split("_")[0]!, 10);
}

/** wrangler's order: by the leading number of each path segment, numbered before unnumbered, then by name. */
export function compareMigrationNames(a: string, b: string): number {
  const as = a.split("/");
  const bs = b.split("/");
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const an = leadingNumber(as[i]!);
    const bn = leadingNumber(bs[i]!);
    if (an !== bn) {
      if (Number.isFinite(an) && Number.isFinite(bn)) return an - bn;
      if (Number.isFinite(an)) return -1;
      if (Number.isFinite(bn)) return 1;
    }
    if (as[i]! !== bs[i]!) return as[i]! < bs[i]! ? -1 : 1;
  }
  return as.length - bs.length;
}

/** The migration files of a layout (paths relative to its folder, `/`-separated), in the order they apply. */
export function migrationFiles(layout: MigrationsLayout): string[] {
  const matcher = globRegExp(layout.pattern);
  const out: string[] = [];
  const walk = (abs: string, rel: string, depth: number) => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      // Folders are followed a few levels deep: drizzle-style layouts use `<n>_name/migration.sql`.
      if (entry.isDirectory() && depth < 8) walk(join(abs, entry.name), childRel, depth + 1);
      else if (entry.isFile() && matcher.test(childRel)) out.push(childRel);
    }
  };
  walk(layout.dir, "", 0);
  return out.sort(compareMigrationNames);
}

/**
 * A migration file's statements, as wrangler runs them: a `BEGIN TRANSACTION;` … `COMMIT;`
 * around a `sqlite3 .dump` is dropped (D1 runs each migration in a transaction itself),
 * and the rest is split at top-level semicolons. More than one transaction is refused.
 */
export function migrationQueries(sql: string): string[] {
  let text = sql;
  if (text.includes("BEGIN TRANSACTION")) {
    text = text.replace("BEGIN TRANSACTION;", "").replace("COMMIT;", "");
    if (text.includes("BEGIN TRANSACTION"))
      throw new Error("The SQL file contains several transactions; D1 runs each migration in a transaction itself. Remove BEGIN TRANSACTION and COMMIT.");
  }
  return splitStatements(text).map((st) => st.text);
}

/** Cloudflare's `readD1Migrations(dir)`: every `.sql` file of a folder, ordered by its number, split into statements. */
export function readD1Migrations(migrationsPath: string): D1Migration[] {
  if (typeof migrationsPath !== "string") throw new TypeError("Failed to execute 'readD1Migrations': parameter 1 is not of type 'string'.");
  const names = readdirSync(migrationsPath).filter((name) => name.endsWith(".sql") && statSync(join(migrationsPath, name)).isFile());
  names.sort(compareMigrationNames);
  return names.map((name) => ({ name, queries: migrationQueries(readFileSync(join(migrationsPath, name), "utf8")) }));
}

/** An identifier quoted for SQL. */
function quoteId(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

/**
 * Applies the migrations not yet recorded in `table`, in the given order, each in one
 * transaction with its record (a failing one leaves the earlier ones applied and throws
 * D1's error). Returns the names applied. `onApplied` is told of each as it lands.
 */
export async function applyMigrations(
  db: D1Database,
  migrations: D1Migration[],
  table = DEFAULT_MIGRATIONS_TABLE,
  onApplied?: (name: string) => void,
): Promise<string[]> {
  const t = quoteId(table);
  await db
    .prepare(`CREATE TABLE IF NOT EXISTS ${t} (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      name       TEXT UNIQUE,
      applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
    );`)
    .run();
  const applied = new Set((await db.prepare(`SELECT name FROM ${t} ORDER BY id;`).all<{ name: string }>()).results.map((r) => r.name));
  const record = db.prepare(`INSERT INTO ${t} (name) VALUES (?);`);
  const done: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.name)) continue;
    try {
      await db.batch([...migration.queries.map((q) => db.prepare(q)), record.bind(migration.name)]);
    } catch (error) {
      throw new MigrationError(migration.name, error as Error);
    }
    done.push(migration.name);
    onApplied?.(migration.name);
  }
  return done;
}

/** A migration that failed: its name, and D1's error as the cause. */
export class MigrationError extends Error {
  override name = "MigrationError";
  readonly migration: string;

  constructor(migration: string, cause: Error) {
    super(`Migration ${migration} failed: ${cause.message}`, { cause });
    this.migration = migration;
  }
}
