/**
 * One object's SQLite database handle with its prepared statements. A handle
 * outlives the object's storage across hibernation (the provider caches it),
 * so waking reuses the statements instead of preparing them again.
 */
import Database from "better-sqlite3";
import type { SynchronousMode } from "./options.ts";

const SCHEMA_VERSION = 1;
const USER_STATEMENT_CACHE = 128;

/** An open object database. */
export class ObjectDatabase {
  readonly db: Database.Database;
  readonly begin: Database.Statement;
  readonly commit: Database.Statement;
  readonly rollback: Database.Statement;
  readonly savepoint: Database.Statement;
  readonly release: Database.Statement;
  readonly rollbackTo: Database.Statement;
  readonly kvGet: Database.Statement<[string], { value: Buffer }>;
  readonly kvPut: Database.Statement<[string, Buffer]>;
  readonly kvDelete: Database.Statement<[string]>;
  readonly kvDeleteAll: Database.Statement;
  readonly metaGet: Database.Statement<[string], { value: unknown }>;
  readonly metaPut: Database.Statement<[string, unknown]>;
  readonly metaDelete: Database.Statement<[string]>;
  readonly size: Database.Statement<[], { size: number }>;
  readonly userTables: Database.Statement<[], { type: string; name: string }>;
  /** Bumped after each DDL statement of user SQL: the row counters read statements' programs again (sql-counters.ts). */
  schemaEpoch = 0;
  readonly #list = new Map<string, Database.Statement>();
  readonly #user = new Map<string, Database.Statement>();

  /**
   * Opens or creates the database at `path` (or an in-memory one). `autoCheckpoint: false` turns
   * SQLite's checkpoint inside COMMIT off (the provider checkpoints: wal-checkpoint.ts).
   */
  constructor(path: string, synchronous: SynchronousMode, autoCheckpoint = true) {
    this.db = new Database(path);
    try {
      if (path !== ":memory:") {
        // One process owns a data directory: exclusive locking lets WAL run
        // without the shared-memory file (one fewer file handle per object).
        this.db.pragma("locking_mode = EXCLUSIVE");
        this.db.pragma("journal_mode = WAL");
      }
      this.db.pragma(`synchronous = ${synchronous}`);
      if (!autoCheckpoint) this.db.pragma("wal_autocheckpoint = 0");
      // Cloudflare enforces foreign keys in Durable Object SQLite.
      this.db.pragma("foreign_keys = ON");
      if (this.db.pragma("user_version", { simple: true }) !== SCHEMA_VERSION) {
        this.db.exec(`
          BEGIN;
          CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
          CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
          PRAGMA user_version = ${SCHEMA_VERSION};
          COMMIT;
        `);
      }
      const p = (sql: string) => this.db.prepare(sql);
      this.begin = p("BEGIN");
      this.commit = p("COMMIT");
      this.rollback = p("ROLLBACK");
      this.savepoint = p("SAVEPOINT _cf_sp");
      this.release = p("RELEASE _cf_sp");
      this.rollbackTo = p("ROLLBACK TO _cf_sp");
      this.kvGet = p("SELECT value FROM _cf_KV WHERE key = ?") as Database.Statement<[string], { value: Buffer }>;
      this.kvPut = p("INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?, ?)") as Database.Statement<[string, Buffer]>;
      this.kvDelete = p("DELETE FROM _cf_KV WHERE key = ?") as Database.Statement<[string]>;
      this.kvDeleteAll = p("DELETE FROM _cf_KV");
      this.metaGet = p("SELECT value FROM _cf_METADATA WHERE key = ?") as Database.Statement<[string], { value: unknown }>;
      this.metaPut = p("INSERT OR REPLACE INTO _cf_METADATA (key, value) VALUES (?, ?)") as Database.Statement<[string, unknown]>;
      this.metaDelete = p("DELETE FROM _cf_METADATA WHERE key = ?") as Database.Statement<[string]>;
      this.size = p("SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()") as Database.Statement<[], { size: number }>;
      this.userTables = p(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
      ) as Database.Statement<[], { type: string; name: string }>;
    } catch (error) {
      // A file that fails its first statements (corrupt, disk full) must not keep its descriptor.
      this.db.close();
      throw error;
    }
  }

  /** A cached `list()` statement for one combination of bounds. */
  listStatement(shape: string, build: () => string): Database.Statement {
    let s = this.#list.get(shape);
    if (s === undefined) {
      s = this.db.prepare(build());
      this.#list.set(shape, s);
    }
    return s;
  }

  /** A cached prepared statement of user SQL (the most recently used are kept). */
  userStatement(sql: string): Database.Statement {
    let s = this.#user.get(sql);
    if (s !== undefined) {
      this.#user.delete(sql);
      this.#user.set(sql, s);
      return s;
    }
    s = this.db.prepare(sql);
    this.#user.set(sql, s);
    if (this.#user.size > USER_STATEMENT_CACHE) this.#user.delete(this.#user.keys().next().value!);
    return s;
  }

  /** Forgets user statements (after the schema was dropped). */
  clearUserStatements(): void {
    this.#user.clear();
  }

  close(): void {
    if (this.db.inTransaction) this.rollback.run();
    this.db.close();
  }
}
