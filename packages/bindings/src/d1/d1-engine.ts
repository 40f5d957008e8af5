import type Database from "better-sqlite3";
import { bindingsFor, convertBindings, parseStatements, sqlError, type ParsedStatement } from "@torpor/storage-sqlite/sql";
import { openSharedDatabase } from "../shared-database.ts";

/** A value as D1 sends it: numbers, strings, NULL, and BLOBs as arrays of bytes. */
export type D1Value = number | string | null | number[];

/** One query of a request: its SQL and the values bound to its last statement. */
export interface D1Query {
  sql: string;
  params: D1Value[];
}

/** The meta of one query's result, Miniflare's fields in its order. */
export interface D1Meta {
  served_by: string;
  duration: number;
  changes: number;
  last_row_id: number;
  changed_db: boolean;
  size_after: number;
  rows_read: number;
  rows_written: number;
}

/** One query's rows and meta. */
export interface D1QueryResult {
  success: true;
  meta: D1Meta;
  results: { columns: string[]; rows: D1Value[][] };
}

/** A failed request: `message` is the error D1 reports (`D1_ERROR: <message>` to the Worker). */
export class D1Failure extends Error {
  override name = "D1Failure";
}

/** What a D1 result names as the server that ran the query. */
export const SERVED_BY = "torpor.db";

/** Statements that only read: a request made of them runs in a read transaction, others take the write lock first. */
const READ_KEYWORDS: ReadonlySet<string> = new Set(["SELECT", "VALUES", "EXPLAIN"]);
const STATEMENT_CACHE = 128;

/**
 * One D1 database: a SQLite file under the data directory, shared by every
 * process of a cluster. Each request (a query, a batch, an exec) runs in one
 * transaction, all or nothing, as Miniflare's D1 runs it inside a Durable
 * Object's `transactionSync`; the SQL rules, value conversions and errors are
 * workerd's Durable Object SQL ones (`@torpor/storage-sqlite/sql`), which is
 * what local D1 runs on. Requests that may write take SQLite's write lock at
 * BEGIN (IMMEDIATE), so two processes never deadlock upgrading a read.
 */
export class D1Engine {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #stats: Database.Statement<[], { totalChanges: number; lastRowId: number; size: number }>;
  #sequence = 0;

  constructor(path: string) {
    this.#db = openSharedDatabase(path, (db) => {
      // As in a Durable Object's SQLite, which local D1 runs on.
      db.pragma("foreign_keys = ON");
      // Local workerd's D1 database has this table (its Durable Object's); user SQL cannot touch it.
      db.exec("CREATE TABLE IF NOT EXISTS _cf_METADATA (key INTEGER PRIMARY KEY, value BLOB)");
    });
    try {
      this.#stats = this.#db.prepare(
        "SELECT total_changes() AS totalChanges, last_insert_rowid() AS lastRowId, (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size()) AS size",
      );
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /**
   * Runs the queries in one transaction and returns each one's result and a
   * bookmark of the state after them; any failure rolls all of them back and
   * throws a {@link D1Failure} with the message D1 reports. Another
   * process's write lock at BEGIN is thrown as SQLite's own SQLITE_BUSY
   * (nothing has changed yet), for the caller to wait and run it again.
   */
  run(queries: D1Query[]): { results: D1QueryResult[]; bookmark: string } {
    // Miniflare drops queries that are only whitespace (and comments after leading whitespace).
    const kept = queries.filter((q) => q.sql.replace(/^\s+--.*/gm, "").trim().length > 0);
    if (kept.length === 0) throw new D1Failure("No SQL statements detected.");
    const db = this.#db;
    db.exec(this.#readOnly(kept) ? "BEGIN" : "BEGIN IMMEDIATE");
    try {
      const results = kept.map((q) => this.#query(q));
      db.exec("COMMIT");
      return { results, bookmark: this.#bookmark() };
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw new D1Failure(error instanceof Error ? error.message : String(error), { cause: error });
    }
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }

  #readOnly(queries: D1Query[]): boolean {
    try {
      return queries.every((q) => parseStatements(q.sql).every((st: ParsedStatement) => READ_KEYWORDS.has(st.keyword)));
    } catch {
      // The query fails to parse: it fails again, in order, inside the transaction.
      return false;
    }
  }

  #query(query: D1Query): D1QueryResult {
    const start = performance.now();
    const before = this.#stats.get()!;
    const statements = parseStatements(query.sql);
    if (statements.length === 0) throw new Error("SQL code did not contain a statement.");
    const last = statements.length - 1;
    for (let i = 0; i < last; i++) {
      if (statements[i]!.parameters.length > 0)
        throw new Error("When executing multiple SQL statements in a single call, only the last statement can have parameters.");
    }
    const lastArgs = bindingsFor(statements[last]!, convertBindings(query.params.map(toSqlite)));
    let columns: string[] = [];
    let rows: D1Value[][] = [];
    let rowsRead = 0;
    let rowsWritten = 0;
    for (let i = 0; i <= last; i++) {
      const stmt = this.#prepare(statements[i]!.text);
      const args = i === last ? lastArgs : [];
      try {
        if (stmt.reader) {
          columns = stmt.columns().map((c) => c.name);
          rows = (stmt.raw(true).all(...args) as unknown[][]).map((row) => row.map(fromSqlite));
          // Rows returned (and changed, for INSERT … RETURNING): Torpor's approximation of workerd's counters.
          rowsRead = rows.length;
          rowsWritten = stmt.readonly ? 0 : rows.length;
        } else {
          const info = stmt.run(...args);
          columns = [];
          rows = [];
          rowsRead = info.changes;
          rowsWritten = info.changes;
        }
      } catch (error) {
        throw sqlError(error, stmt.source);
      }
    }
    const after = this.#stats.get()!;
    const changes = after.totalChanges - before.totalChanges;
    return {
      success: true,
      meta: {
        served_by: SERVED_BY,
        duration: performance.now() - start,
        changes,
        last_row_id: after.lastRowId,
        changed_db: changes !== 0 || after.lastRowId !== before.lastRowId || after.size !== before.size,
        size_after: after.size,
        rows_read: rowsRead,
        rows_written: rowsWritten,
      },
      results: { columns, rows },
    };
  }

  #prepare(text: string): Database.Statement {
    let stmt = this.#statements.get(text);
    if (stmt === undefined) {
      try {
        stmt = this.#db.prepare(text);
      } catch (error) {
        throw sqlError(error, text);
      }
      if (this.#statements.size >= STATEMENT_CACHE) this.#statements.delete(this.#statements.keys().next().value!);
      this.#statements.set(text, stmt);
    }
    return stmt;
  }

  /** A bookmark that sorts after every earlier one of this process (locally every read sees the latest write). */
  #bookmark(): string {
    const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
    return `${hex(Date.now(), 12)}-${hex(process.pid, 8)}-${hex(++this.#sequence, 8)}`;
  }
}

/** A BLOB arrives as an array of numbers (bytes, each taken modulo 256 as Uint8Array does). */
function toSqlite(value: D1Value): unknown {
  return Array.isArray(value) ? Buffer.from(Uint8Array.from(value)) : value;
}

/** A BLOB leaves as an array of numbers. */
function fromSqlite(value: unknown): D1Value {
  return value instanceof Uint8Array ? Array.from(value) : (value as D1Value);
}
