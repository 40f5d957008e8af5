/**
 * The result of `sql.exec` (Cloudflare's `SqlStorageCursor`). Statements run
 * to completion inside `exec`, so a cursor holds its rows already; iterating
 * with `next()`, `raw()` or `toArray()` consumes the same position.
 */
import { TorporError, type SqlStorageCursor, type SqlStorageValue } from "@torpor/core";

type Row = Record<string, SqlStorageValue>;

/** A cursor over rows that were read eagerly. */
export class SqlCursor<T extends Row = Row> implements SqlStorageCursor<T> {
  readonly columnNames: string[];
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly #rows: SqlStorageValue[][];
  #position = 0;

  /** @internal made by `sql.exec`. */
  constructor(columnNames: string[], rows: SqlStorageValue[][], rowsRead: number, rowsWritten: number) {
    this.columnNames = columnNames;
    this.#rows = rows;
    this.rowsRead = rowsRead;
    this.rowsWritten = rowsWritten;
  }

  next(): IteratorResult<T> {
    const row = this.#rows[this.#position];
    if (row === undefined) return { done: true, value: undefined };
    this.#position++;
    return { done: false, value: this.#toObject(row) };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return { next: () => this.next(), [Symbol.iterator]() { return this; } };
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let r = this.next(); !r.done; r = this.next()) out.push(r.value);
    return out;
  }

  one(): T {
    const remaining = this.#rows.length - this.#position;
    if (remaining !== 1) {
      throw new TorporError(
        "ERR_SQL_NOT_ONE_ROW",
        remaining === 0
          ? "Expected exactly one result from SQL query, but got no results. Use toArray() or next() when a query may return nothing."
          : `Expected exactly one result from SQL query, but got ${remaining.toLocaleString("en-US")}. Add a LIMIT or a tighter WHERE, or use toArray().`,
      );
    }
    return this.next().value as T;
  }

  raw<U extends SqlStorageValue[] = SqlStorageValue[]>(): IterableIterator<U> {
    const it: IterableIterator<U> = {
      next: (): IteratorResult<U> => {
        const row = this.#rows[this.#position];
        if (row === undefined) return { done: true, value: undefined };
        this.#position++;
        return { done: false, value: row.slice() as U };
      },
      [Symbol.iterator]() {
        return it;
      },
    };
    return it;
  }

  #toObject(row: SqlStorageValue[]): T {
    const obj: Row = {};
    const names = this.columnNames;
    for (let i = 0; i < names.length; i++) obj[names[i]!] = row[i]!;
    return obj as T;
  }
}
