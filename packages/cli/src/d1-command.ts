import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  applyMigrations,
  D1Database,
  D1Engine,
  d1DatabaseId,
  d1DatabasePath,
  MigrationError,
  migrationFiles,
  migrationQueries,
  migrationsLayout,
  type D1DatabaseConfig,
} from "@torpor/bindings";
import { findConfig, readConfig } from "./config.ts";
import { CliError } from "./errors.ts";

/** `torpor d1 --help`. */
export const D1_HELP = `torpor d1: manage the local D1 databases of a wrangler project

Usage:
  torpor d1 migrate [database] [options]   applies the migrations not yet applied, in order,
                                           each in one transaction (wrangler's layout: the
                                           binding's migrations_dir, default migrations/, files
                                           matching migrations_pattern, default *.sql, recorded
                                           in migrations_table, default d1_migrations)

  database                    a d1_databases entry's binding or database_name
                              (default: every database of the config)

Options:
  -c, --config <file>         wrangler.jsonc, wrangler.json or wrangler.toml
      --persist-to <dir>      the data directory of torpor dev / start (default: .torpor/state
                              beside the config); databases live in <dir>/d1
  -h, --help                  show this help

A running torpor dev or start on the same data directory may keep serving: each migration
is one SQLite transaction, which its queries wait for.
`;

/** Runs `torpor d1 <subcommand>`; prints progress to `out`. */
export async function runD1(argv: string[], cwd = process.cwd(), out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new CliError("ERR_CLI_USAGE", `${(error as Error).message.replace(/\.$/, "")}. Run torpor d1 --help for the options.`);
  }
  const { values, positionals } = parsed;
  const [sub, database, ...extra] = positionals;
  if (values.help === true || sub === undefined) {
    out(D1_HELP.trimEnd());
    return;
  }
  if (sub !== "migrate") throw new CliError("ERR_CLI_USAGE", `Unknown command "torpor d1 ${sub}": use torpor d1 migrate.`);
  if (extra.length > 0) throw new CliError("ERR_CLI_USAGE", `Unexpected argument "${extra[0]}": torpor d1 migrate takes at most one database.`);

  const configPath = findConfig(values.config, cwd);
  if (configPath === null)
    throw new CliError(
      "ERR_CONFIG_NOT_FOUND",
      `No wrangler.jsonc, wrangler.json or wrangler.toml in ${cwd}: torpor d1 migrate reads "d1_databases" from it (or pass --config).`,
    );
  const config = readConfig(configPath);
  const configDir = dirname(configPath);
  const entries = (config.bindingConfig.d1_databases ?? []) as D1DatabaseConfig[];
  const selected = database === undefined ? entries : entries.filter((e) => e.binding === database || e.database_name === database);
  if (selected.length === 0) {
    const known = entries.map((e) => (e.database_name !== undefined ? `${e.binding} (${e.database_name})` : e.binding));
    throw new CliError(
      "ERR_D1_DATABASE_NOT_FOUND",
      database === undefined
        ? `${configPath} has no "d1_databases"; add one (for example { "binding": "DB", "database_name": "app", "database_id": "…" }).`
        : `No D1 database named "${database}" in ${configPath} (by binding or database_name)${known.length > 0 ? `; it has ${known.join(", ")}` : ""}.`,
    );
  }
  const dataDir = values["persist-to"] !== undefined ? resolve(cwd, values["persist-to"]) : join(configDir, ".torpor", "state");
  for (const entry of selected) await migrate(entry, configDir, dataDir, out);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { config: { type: "string", short: "c" }, "persist-to": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
}

async function migrate(entry: D1DatabaseConfig, configDir: string, dataDir: string, out: (line: string) => void): Promise<void> {
  const layout = migrationsLayout(entry, configDir);
  if (typeof layout === "string") throw new CliError("ERR_CONFIG_INVALID", layout);
  if (!existsSync(layout.dir)) {
    throw new CliError(
      "ERR_D1_MIGRATIONS_NOT_FOUND",
      `No migrations present at ${layout.dir} (for ${entry.binding}). Create it with your NNNN_name.sql files, or set "migrations_dir" on the binding.`,
    );
  }
  const path = d1DatabasePath(dataDir, entry);
  out(`Migrating ${entry.binding} (${d1DatabaseId(entry)}) in ${relative(process.cwd(), path) || path}`);
  const names = migrationFiles(layout);
  const engine = new D1Engine(path);
  try {
    const migrations = names.map((name) => ({ name, queries: migrationQueries(readFileSync(join(layout.dir, name), "utf8")) }));
    const applied = await applyMigrations(new D1Database(engine), migrations, layout.table, (name) => out(`  applied ${name}`));
    if (applied.length === 0) out("  no migrations to apply");
  } catch (error) {
    if (error instanceof MigrationError)
      throw new CliError(
        "ERR_D1_MIGRATION_FAILED",
        `${error.message} (${entry.binding}); the migrations before it stay applied. Fix the file and run torpor d1 migrate again.`,
        {
          cause: error,
        },
      );
    throw error;
  } finally {
    engine.close();
  }
}
