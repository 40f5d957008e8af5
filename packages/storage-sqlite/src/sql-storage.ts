/**
 * `ctx.storage.sql`: runs user SQL against the object's database inside the
 * open write batch. Each writing `exec` runs under its own savepoint, so a
 * failing statement leaves the batch as it was before that `exec`.
 */
import type Database from "better-sqlite3";
import { TorporError, type SqlStorage, type SqlStorageCursor, type SqlStorageValue } from "@torpor/core";
import { SqlCursor } from "./sql-cursor.ts";
import { reservedName, splitStatements, TRANSACTION_KEYWORDS, type ParsedStatement } from "./sql-statements.ts";
import type { ObjectDatabase } from "./object-database.ts";

/** What `sql.exec` needs from the object's storage. */
export interface SqlHost {
  /** The open database; throws if the storage is closed. */
  database(): ObjectDatabase;
  /** Opens the write batch if needed (BEGIN + `writeStarted`). */
  beginWrite(): void;
  /**
   * A statement ended the batch's transaction (SQLite rolled it back itself):
   * records it so the batch fails, with `cause` as the reason.
   */
  batchLost(cause: unknown): void;
  /** Called after the schema may have been dropped or changed. */
  schemaChanged?(): void;
}

const parsed = new Map<string, ParsedStatement[]>();
const PARSE_CACHE = 512;

/** Creates the `sql` object of one object's storage. */
export function createSqlStorage(host: SqlHost): SqlStorage {
  return {
    exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
      return exec(host, query, bindings) as unknown as SqlStorageCursor<T>;
    },
    get databaseSize(): number {
      return host.database().size.get()!.size;
    },
  };
}

function exec(host: SqlHost, query: string, bindings: unknown[]): SqlCursor {
  let odb = host.database();
  if (typeof query !== "string") {
    throw new TorporError("ERR_SQL", `sql.exec() needs a query string as its first argument; got ${typeof query}.`);
  }
  const statements = parse(query);
  const args = convertBindings(bindings);
  if (statements.length === 0) return new SqlCursor([], [], 0, 0);
  let first: Database.Statement | undefined;
  if (statements.length === 1) {
    first = prepare(odb, statements[0]!);
    // Reads need no batch and no savepoint.
    if (first.readonly) return run(first, args);
  }
  host.beginWrite();
  // The first write of an object with no file creates it: prepare again on its own database.
  const own = host.database();
  if (own !== odb) {
    odb = own;
    first = undefined;
  }
  odb.savepoint.run();
  try {
    let cursor: SqlCursor | undefined;
    const last = statements.length - 1;
    for (let i = 0; i <= last; i++) {
      const stmt = i === 0 && first !== undefined ? first : prepare(odb, statements[i]!);
      // Cloudflare binds the arguments to the last statement only.
      cursor = run(stmt, i === last ? args : []);
      if (!odb.db.inTransaction) throw new TorporError("ERR_SQL", "The statement ended the open transaction.");
    }
    odb.release.run();
    return cursor!;
  } catch (err) {
    // INSERT OR ROLLBACK, RAISE(ROLLBACK) and some I/O errors make SQLite roll
    // back the whole transaction, taking our savepoint with it: the batch is
    // lost, and SQLite's error (not "no such savepoint") is the one to report.
    if (!odb.db.inTransaction) {
      host.batchLost(err);
      throw err;
    }
    odb.rollbackTo.run();
    odb.release.run();
    throw err;
  }
}

function parse(query: string): ParsedStatement[] {
  let statements = parsed.get(query);
  if (statements === undefined) {
    statements = splitStatements(query);
    for (const st of statements) {
      if (TRANSACTION_KEYWORDS.has(st.keyword)) {
        throw new TorporError(
          "ERR_SQL_TRANSACTION_STATEMENT",
          `sql.exec() refuses ${st.keyword} statements: the runtime manages transactions (writes are committed together at the end of each turn). Use ctx.storage.transactionSync(() => { ... }) for an atomic group of statements.`,
        );
      }
      const name = reservedName(st);
      if (name !== undefined) {
        throw new TorporError(
          "ERR_SQL_RESERVED_NAME",
          `sql.exec() refuses "${name}": names starting with _cf_ are reserved for the runtime's own tables (as on Cloudflare). Rename the table or column.`,
        );
      }
    }
    if (parsed.size >= PARSE_CACHE) parsed.delete(parsed.keys().next().value!);
    parsed.set(query, statements);
  }
  return statements;
}

function prepare(odb: ObjectDatabase, st: ParsedStatement): Database.Statement {
  try {
    return odb.userStatement(st.text);
  } catch (err) {
    throw sqlError(err);
  }
}

function run(stmt: Database.Statement, args: unknown[]): SqlCursor {
  try {
    if (stmt.reader) {
      const columns = stmt.columns().map((c) => c.name);
      const rows = stmt.raw(true).all(...args) as SqlStorageValue[][];
      for (const row of rows) {
        for (let i = 0; i < row.length; i++) {
          const v = row[i];
          // Cloudflare returns BLOBs as ArrayBuffer.
          if (v instanceof Uint8Array) row[i] = v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer;
        }
      }
      return new SqlCursor(columns, rows, rows.length, stmt.readonly ? 0 : rows.length);
    }
    const info = stmt.run(...args);
    return new SqlCursor([], [], 0, info.changes);
  } catch (err) {
    throw sqlError(err);
  }
}

function convertBindings(bindings: unknown[]): unknown[] {
  let out = bindings;
  for (let i = 0; i < bindings.length; i++) {
    const v = bindings[i];
    const t = typeof v;
    if (v === null || t === "string" || t === "number" || t === "bigint") continue;
    let converted: Buffer | undefined;
    if (v instanceof ArrayBuffer) converted = Buffer.from(v);
    else if (ArrayBuffer.isView(v)) converted = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (converted === undefined) {
      throw new TorporError(
        "ERR_SQL_INVALID_BINDING",
        `sql.exec() binding ${i + 1} is ${t === "object" ? "an object" : `a ${t}`}; bindings must be strings, numbers, null, or ArrayBuffer/typed arrays (stored as BLOB).${t === "boolean" ? " Bind 1 or 0 for a boolean." : ""}`,
      );
    }
    if (out === bindings) out = bindings.slice();
    out[i] = converted;
  }
  return out;
}

function sqlError(err: unknown): TorporError {
  if (err instanceof TorporError) return err;
  const e = err as { message?: string; code?: string };
  const code = typeof e.code === "string" && e.code.startsWith("SQLITE") ? `: ${e.code}` : "";
  return new TorporError("ERR_SQL", `${e.message ?? String(err)}${code}`, { cause: err });
}
