import { afterOutputGate } from "@torpor/core";
import { isBusy } from "@torpor/storage-sqlite";
import { whenUnlocked } from "../lock-wait.ts";
import { D1Failure, type D1Engine, type D1Meta, type D1QueryResult, type D1Value } from "./d1-engine.ts";

/** `all()`, `run()` and each `batch()` entry: rows as objects, and the meta. */
export interface D1Result<T = Record<string, unknown>> {
  success: true;
  meta: D1Meta;
  results: T[];
}

/** `exec()`'s result. */
export interface D1ExecResult {
  count: number;
  duration: number;
}

const FIRST_UNCONSTRAINED = "first-unconstrained";
const FIRST_PRIMARY = "first-primary";

/** `D1_ERROR: <message>` with the message as its cause, as workerd's D1 binding throws. */
function d1Error(message: string, prefix = "D1_ERROR"): Error {
  return new Error(`${prefix}: ${message}`, { cause: new Error(message) });
}

/** Rows and columns to one object per row (a repeated column name keeps the last value). */
function toObjects(result: D1QueryResult): Record<string, D1Value>[] {
  const { columns, rows } = result.results;
  return rows.map((row) => Object.fromEntries(row.map((cell, i) => [columns[i], cell])));
}

function withObjects(result: D1QueryResult): D1Result<Record<string, D1Value>> {
  return { success: true, meta: result.meta, results: toObjects(result) };
}

/** Where a session's queries go: the database's engine, and the bookmark the session has seen. */
interface Connection {
  engine: D1Engine;
}

/**
 * A D1 session (`db.withSession()`): the same queries, plus a bookmark of the
 * latest state it has seen. Locally there is one copy of the database, so
 * every read already sees every earlier write; the bookmark only orders.
 */
export class D1DatabaseSession {
  readonly #connection: Connection;
  #bookmarkOrConstraint: string | null;
  readonly #tracksBookmarks: boolean;

  /** @internal made by `D1Database.withSession()` (and, without bookmarks, by the database itself). */
  constructor(connection: Connection, bookmarkOrConstraint: string | null, tracksBookmarks = true) {
    this.#connection = connection;
    this.#tracksBookmarks = tracksBookmarks;
    if (bookmarkOrConstraint === null) this.#bookmarkOrConstraint = null;
    else {
      this.#bookmarkOrConstraint = bookmarkOrConstraint.trim();
      if (!this.#bookmarkOrConstraint) throw new Error("D1_SESSION_ERROR: invalid bookmark or constraint");
    }
  }

  /** A statement run in this session. */
  prepare(sql: string): D1PreparedStatement {
    return new D1PreparedStatement(this, sql);
  }

  /** Runs the statements in one transaction (all or nothing); one result per statement. */
  async batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    const queries = statements.map((s) => ({ sql: s?.statement, params: s?.params }));
    return (await this._send(queries)).map(withObjects) as D1Result<T>[];
  }

  /** The latest bookmark a response gave this session, or null (a constraint is not a bookmark). */
  getBookmark(): string | null {
    if (!this.#tracksBookmarks) return null;
    const value = this.#bookmarkOrConstraint;
    return value === FIRST_UNCONSTRAINED || value === FIRST_PRIMARY ? null : value;
  }

  /**
   * @internal runs queries on the engine; a failure rejects with `D1_ERROR`.
   * Every query (reads too) waits for the calling Durable Object's output
   * gate, as on workerd, where D1 is a fetch to the database (fetch waits for
   * the output locks): the database commits at once, so without the wait a
   * power loss could keep this write and lose the object's write before it.
   */
  _send(queries: Array<{ sql: unknown; params: unknown }>): Promise<D1QueryResult[]> {
    return afterOutputGate(() => this.#sendNow(queries));
  }

  async #sendNow(queries: Array<{ sql: unknown; params: unknown }>): Promise<D1QueryResult[]> {
    const checked = queries.map(checkQuery);
    let outcome: ReturnType<D1Engine["run"]>;
    try {
      // The whole batch is one attempt: it takes the write lock at BEGIN IMMEDIATE, before any change.
      outcome = await whenUnlocked(() => this.#connection.engine.run(checked));
    } catch (error) {
      if (error instanceof D1Failure) throw d1Error(error.message);
      // Another process held the lock for all of LOCK_WAIT_MS: reported as a statement's SQLITE_BUSY is.
      if (isBusy(error)) throw d1Error(`${(error as Error).message}: SQLITE_BUSY`);
      throw error;
    }
    this.#update(outcome.bookmark);
    return outcome.results;
  }

  #update(bookmark: string): void {
    if (!this.#tracksBookmarks) return;
    const current = this.getBookmark();
    if (current === null || current.localeCompare(bookmark) < 0) this.#bookmarkOrConstraint = bookmark;
  }
}

/**
 * workerd sends queries to D1 as JSON, which Miniflare validates: SQL must be a
 * string and values numbers, strings, null or byte arrays. NaN and the
 * infinities become null on the way (JSON has no such numbers).
 */
function checkQuery(query: { sql: unknown; params: unknown }): { sql: string; params: D1Value[] } {
  const params = query.params === undefined || query.params === null ? [] : query.params;
  const valid =
    typeof query.sql === "string" &&
    Array.isArray(params) &&
    params.every((p) => p === null || typeof p === "string" || typeof p === "number" || (Array.isArray(p) && p.every((b) => typeof b === "number")));
  if (!valid) {
    // Miniflare's words (its schema check failing); the second line says what was wrong.
    throw d1Error(
      `Failed to parse body as JSON, got: ZodError\n    (each statement's SQL must be a string, and bound values numbers, strings, null or bytes; got SQL of type ${typeof query.sql})`,
    );
  }
  return { sql: query.sql as string, params: (params as D1Value[]).map((p) => (typeof p === "number" && !Number.isFinite(p) ? null : p)) };
}

/**
 * A D1 database binding (`env.DB`), as workerd's D1 binding with Miniflare's
 * local D1 behind it: `prepare`, `batch`, `exec`, `withSession`, `dump`.
 */
export class D1Database {
  readonly #connection: Connection;
  readonly #primary: D1DatabaseSession;

  /** @internal made by the D1 plugin for each `d1_databases` entry. */
  constructor(engine: D1Engine) {
    this.#connection = { engine };
    this.#primary = new D1DatabaseSession(this.#connection, null, false);
  }

  /** A statement; bind values with `bind()`, run it with `first`, `all`, `raw` or `run`. */
  prepare(query: string): D1PreparedStatement {
    return new D1PreparedStatement(this.#primary, query);
  }

  /** Runs the statements in one transaction (all or nothing); one result per statement. */
  async batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    return this.#primary.batch<T>(statements);
  }

  /**
   * Runs SQL without bindings, one statement per line, in one transaction.
   * A failure reports line 1 (`D1_EXEC_ERROR: Error in line 1: …`), as local D1 does.
   */
  async exec(query: string): Promise<D1ExecResult> {
    const lines = query.trim().split("\n");
    let results: D1QueryResult[];
    try {
      results = await this.#primary._send(lines.map((sql) => ({ sql, params: [] })));
    } catch (error) {
      const message = ((error as Error).cause as Error).message;
      // Local D1 answers a failed exec with one error, which the binding reports as line 1.
      const legacy = `Error in line 1: ${lines[0]}: ${message}`;
      throw d1Error(legacy, "D1_EXEC_ERROR");
    }
    return { count: results.length, duration: results.reduce((sum, r) => sum + r.meta.duration, 0) };
  }

  /** A session: the first query goes anywhere (`"first-unconstrained"`), to the primary (`"first-primary"`), or after a bookmark. */
  withSession(constraintOrBookmark?: string): D1DatabaseSession {
    constraintOrBookmark = constraintOrBookmark?.trim();
    if (constraintOrBookmark == null || constraintOrBookmark === "") constraintOrBookmark = FIRST_UNCONSTRAINED;
    return new D1DatabaseSession(this.#connection, constraintOrBookmark);
  }

  /** Deprecated on Cloudflare (alpha databases only); local D1 answers 404, and so does this. */
  async dump(): Promise<ArrayBuffer> {
    throw new Error("D1_DUMP_ERROR: Status + 404", { cause: new Error("Status 404") });
  }
}

/** A prepared statement: its SQL and bound values; immutable (`bind` returns a new one). */
export class D1PreparedStatement {
  readonly #session: D1DatabaseSession;
  readonly statement: string;
  readonly params: D1Value[];

  /** @internal made by `prepare()` and `bind()`. */
  constructor(session: D1DatabaseSession, statement: string, values?: D1Value[]) {
    this.#session = session;
    this.statement = statement;
    this.params = values ?? [];
  }

  /**
   * A copy with these values bound, converted as D1 does: numbers and strings
   * as they are, booleans as 1/0, null, and bytes (`ArrayBuffer`, views,
   * arrays of 0–255) as BLOBs; anything else throws `D1_TYPE_ERROR`.
   */
  bind(...values: unknown[]): D1PreparedStatement {
    return new D1PreparedStatement(this.#session, this.statement, values.map(bindValue));
  }

  /** The first row (or one column of it), or null when there is none. */
  async first<T = Record<string, unknown>>(colName?: string): Promise<T | null> {
    const [result] = await this.#session._send([{ sql: this.statement, params: this.params }]);
    const first = toObjects(result!)[0];
    if (first === undefined) return null;
    if (colName === undefined) return first as T;
    if (first[colName] === undefined) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${colName})`, { cause: new Error("Column not found") });
    return first[colName] as T;
  }

  /** Runs the statement; its rows as objects, and the meta. */
  async run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.all<T>();
  }

  /** Every row as an object, and the meta. */
  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const [result] = await this.#session._send([{ sql: this.statement, params: this.params }]);
    return withObjects(result!) as D1Result<T>;
  }

  /** Every row as an array of values (first the column names, with `{ columnNames: true }`). */
  async raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]> {
    const [result] = await this.#session._send([{ sql: this.statement, params: this.params }]);
    const { columns, rows } = result!.results;
    return [...(options?.columnNames ? [columns] : []), ...rows] as T[];
  }
}

function bindValue(value: unknown): D1Value {
  const type = typeof value;
  if (type === "number" || type === "string") return value as number | string;
  if (type === "boolean") return value ? 1 : 0;
  if (type === "object") {
    if (value == null) return null;
    if (Array.isArray(value) && value.every((b: unknown) => typeof b === "number" && b >= 0 && b < 256)) return value as number[];
    if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
    if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  }
  const text = `${value as string}`;
  throw new Error(`D1_TYPE_ERROR: Type '${type}' not supported for value '${text}'`, { cause: new Error(`Type '${type}' not supported for value '${text}'`) });
}
