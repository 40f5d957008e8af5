/**
 * `ctx.storage.sql`: runs user SQL against the object's database inside the
 * open write batch. Each writing `exec` runs under its own savepoint, so a
 * failing statement leaves the batch as it was before that `exec`.
 */
import type Database from "better-sqlite3";
import { TorporError, type SqlStorage, type SqlStorageCursor, type SqlStorageValue } from "@torpor/core";
import { argumentTypeError, workerdError } from "@torpor/core/storage";
import { indexedTable, measureRead, measureWrite } from "./sql-counters.ts";
import { SqlCursor } from "./sql-cursor.ts";
import { pragmaAllowed, reservedName, splitStatements, TRANSACTION_KEYWORDS, type ParsedStatement } from "./sql-statements.ts";
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
      if (arguments.length === 0) throw argumentTypeError("exec", "SqlStorage", 1, "JsString");
      return exec(host, query, bindings) as unknown as SqlStorageCursor<T>;
    },
    get databaseSize(): number {
      return host.database().size.get()!.size;
    },
  };
}

function exec(host: SqlHost, query: string, bindings: unknown[]): SqlCursor {
  let odb = host.database();
  // workerd converts the query to a string (so exec(5) is the SQL "5").
  const statements = parse(typeof query === "string" ? query : `${query as unknown as string}`);
  const args = convertBindings(bindings);
  if (statements.length === 0) throw workerdError(Error, "ERR_SQL_NO_STATEMENT", "SQL code did not contain a statement.");
  const last = statements.length - 1;
  for (let i = 0; i < last; i++) {
    if (statements[i]!.parameters.length > 0) {
      throw workerdError(
        Error,
        "ERR_SQL_BINDING_COUNT",
        "When executing multiple SQL statements in a single call, only the last statement can have parameters.",
      );
    }
  }
  const lastArgs = bindingsFor(statements[last]!, args);
  let first: Database.Statement | undefined;
  if (statements.length === 1) {
    first = prepare(odb, statements[0]!);
    // Reads need no batch and no savepoint.
    if (first.readonly) return run(odb, statements[0]!, first, lastArgs);
  }
  host.beginWrite();
  // The first write of an object with no file creates it: prepare again on its own database.
  const own = host.database();
  if (own !== odb) {
    odb = own;
    first = undefined;
  }
  let cursor: SqlCursor | undefined;
  for (let i = 0; i <= last; i++) {
    // Each statement under its own savepoint: as on workerd, a failing statement
    // leaves no trace, and the statements before it keep their effects.
    odb.savepoint.run();
    try {
      const stmt = i === 0 && first !== undefined ? first : prepare(odb, statements[i]!);
      // Cloudflare binds the arguments to the last statement only.
      cursor = run(odb, statements[i]!, stmt, i === last ? lastArgs : []);
      if (!odb.db.inTransaction) throw new TorporError("ERR_SQL", "The statement ended the open transaction.");
      odb.release.run();
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
  return cursor!;
}

/**
 * The arguments better-sqlite3 wants for `st`: positional values for `?`,
 * and an object for numbered (`?2`) and named (`:name`, `@name`, `$name`)
 * parameters, which SQLite numbers in order of first appearance and
 * workerd binds positionally. The count must equal the highest index.
 */
export function bindingsFor(st: ParsedStatement, args: unknown[]): unknown[] {
  const params = st.parameters;
  let anonymous = true;
  for (const p of params) if (p !== "?") anonymous = false;
  if (anonymous) {
    if (args.length !== params.length) throw bindingCountError();
    return args;
  }
  const indexOf = new Map<string, number>();
  const positional: number[] = [];
  let max = 0;
  for (const p of params) {
    if (p === "?") positional.push(++max);
    else if (p[0] === "?") {
      const n = Number(p.slice(1));
      indexOf.set(p, n);
      max = Math.max(max, n);
    } else if (!indexOf.has(p)) indexOf.set(p, ++max);
  }
  if (args.length !== max) throw bindingCountError();
  const out: unknown[] = positional.map((i) => args[i - 1]);
  const named: Record<string, unknown> = {};
  // better-sqlite3 names `?2` "2" and `:name` "name".
  for (const [p, i] of indexOf) named[p.slice(1)] = args[i - 1];
  out.push(named);
  return out;
}

function bindingCountError(): Error {
  return workerdError(Error, "ERR_SQL_BINDING_COUNT", "Wrong number of parameter bindings for SQL query.");
}

export function parse(query: string): ParsedStatement[] {
  let statements = parsed.get(query);
  if (statements === undefined) {
    statements = splitStatements(query);
    for (const st of statements) {
      if (TRANSACTION_KEYWORDS.has(st.keyword)) {
        throw workerdError(
          Error,
          "ERR_SQL_TRANSACTION_STATEMENT",
          "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.",
        );
      }
      // workerd's authorizer refuses these with SQLite's SQLITE_AUTH message.
      if (reservedName(st) !== undefined || st.keyword === "ATTACH" || st.keyword === "DETACH" || !pragmaAllowed(st)) {
        throw workerdError(Error, "ERR_SQL_RESERVED_NAME", "not authorized: SQLITE_AUTH");
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
    throw sqlError(err, st.text);
  }
}

function run(odb: ObjectDatabase, st: ParsedStatement, stmt: Database.Statement, args: unknown[]): SqlCursor {
  try {
    let columns: string[] = [];
    let rows: SqlStorageValue[][] = [];
    const execute = (): number => {
      if (!stmt.reader) return stmt.run(...args).changes;
      columns = stmt.columns().map((c) => c.name);
      rows = stmt.raw(true).all(...args) as SqlStorageValue[][];
      for (const row of rows) {
        for (let i = 0; i < row.length; i++) {
          const v = row[i];
          // Cloudflare returns BLOBs as ArrayBuffer.
          if (v instanceof Uint8Array) row[i] = v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer;
        }
      }
      // A writing statement that returns rows (RETURNING) returns one per row changed.
      return rows.length;
    };
    if (stmt.readonly) {
      execute();
      return new SqlCursor(columns, rows, measureRead(odb, stmt, st.text, args, rows), 0);
    }
    const [read, written] = measureWrite(odb, stmt, st.text, args, st.keyword, indexedTable(st.keyword, st.words), execute);
    return new SqlCursor(columns, rows, read, written);
  } catch (err) {
    throw sqlError(err, stmt.source);
  }
}

/**
 * Converts bindings as workerd does: numbers (NaN as NULL), strings, NULL
 * (also for undefined), binary data as BLOB, booleans as TEXT 'true' or
 * 'false', and anything else as its string form; a bigint or symbol throws
 * the TypeError JavaScript's own conversion throws.
 */
export function convertBindings(bindings: unknown[]): unknown[] {
  let out = bindings;
  for (let i = 0; i < bindings.length; i++) {
    const v = bindings[i];
    const t = typeof v;
    if (v === null || t === "string" || (t === "number" && !Number.isNaN(v))) continue;
    let converted: unknown;
    if (v === undefined || t === "number") converted = null;
    else if (v instanceof ArrayBuffer) converted = Buffer.from(v);
    else if (ArrayBuffer.isView(v)) converted = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    else if (t === "bigint")
      converted = +(v as number); // throws "Cannot convert a BigInt value to a number"
    else converted = `${v as string}`; // throws "Cannot convert a Symbol value to a string"
    if (out === bindings) out = bindings.slice();
    out[i] = converted;
  }
  return out;
}

/**
 * SQLite's error as workerd words it: the message, the offset of the
 * offending token where SQLite reports one, and the result code (with the
 * extended code when it is more specific), e.g.
 * `near "SELEC": syntax error at offset 0: SQLITE_ERROR`.
 */
export function sqlError(err: unknown, text?: string): Error {
  if (err instanceof TorporError || (err as { code?: unknown })?.code === "ERR_SQL_BINDING_COUNT") return err as Error;
  const e = err as { message?: string; code?: string };
  const message = e.message ?? String(err);
  if (err instanceof RangeError && /parameter/.test(message)) {
    return workerdError(Error, "ERR_SQL_BINDING_COUNT", "Wrong number of parameter bindings for SQL query.", { cause: err });
  }
  if (typeof e.code !== "string" || !e.code.startsWith("SQLITE")) return err as Error;
  const extended = e.code;
  const primary = /^SQLITE_[A-Z]+/.exec(extended)![0];
  const offset = text === undefined ? -1 : errorOffset(message, text);
  const where = offset >= 0 ? ` at offset ${offset}` : "";
  const code = extended === primary ? primary : `${primary} (extended: ${extended})`;
  return workerdError(Error, "ERR_SQL", `${message}${where}: ${code}`, { cause: err });
}

/**
 * Where SQLite's sqlite3_error_offset() points (better-sqlite3 does not
 * expose it): the token a syntax error is near, the unknown column, the
 * table that already exists. Other errors carry no offset, as on workerd.
 */
function errorOffset(message: string, text: string): number {
  const token =
    /^near "(.+)": syntax error$/.exec(message)?.[1] ??
    /^no such column: (.+)$/.exec(message)?.[1] ??
    /^(?:table|index|view|trigger) (\S+) already exists$/.exec(message)?.[1];
  if (token === undefined) return -1;
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`(^|[^A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`).exec(text);
  return match === null ? -1 : match.index + match[1]!.length;
}
