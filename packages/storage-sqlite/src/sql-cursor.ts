/**
 * The result of `sql.exec` (Cloudflare's `SqlStorageCursor`). Statements run
 * to completion inside `exec`, so a cursor holds its rows already; iterating
 * with `next()`, `raw()` or `toArray()` consumes the same position.
 */
import type { SqlStorageCursor, SqlStorageValue } from "@torpor/core";
import { workerdError } from "@torpor/core/storage";

type Row = Record<string, SqlStorageValue>;

/** A cursor over rows that were read eagerly. */
export class SqlCursor<T extends Row = Row> implements SqlStorageCursor<T> {
  readonly #columnNames: string[];
  readonly #rowsRead: number;
  readonly #rowsWritten: number;
  readonly #rows: SqlStorageValue[][];
  #position = 0;

  /** @internal made by `sql.exec`. */
  constructor(columnNames: string[], rows: SqlStorageValue[][], rowsRead: number, rowsWritten: number) {
    this.#columnNames = columnNames;
    this.#rows = rows;
    this.#rowsRead = rowsRead;
    this.#rowsWritten = rowsWritten;
  }

  // Accessors on the prototype, as on workerd (the cursor has no own properties).
  get columnNames(): string[] {
    return this.#columnNames;
  }

  /** Rows the statement read: approximated as rows returned, or changed for a write (workerd counts b-tree steps). */
  get rowsRead(): number {
    return this.#rowsRead;
  }

  /** Rows the statement inserted, updated or deleted (workerd also counts index entries). */
  get rowsWritten(): number {
    return this.#rowsWritten;
  }

  next(): IteratorResult<T> {
    const row = this.#rows[this.#position];
    if (row === undefined) return { done: true, value: undefined };
    this.#position++;
    return { done: false, value: this.#toObject(row) };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return {
      next: () => this.next(),
      [Symbol.iterator]() {
        return this;
      },
    };
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let r = this.next(); !r.done; r = this.next()) out.push(r.value);
    return out;
  }

  one(): T {
    const remaining = this.#rows.length - this.#position;
    if (remaining !== 1) {
      throw workerdError(
        Error,
        "ERR_SQL_NOT_ONE_ROW",
        `Expected exactly one result from SQL query, but got ${remaining === 0 ? "no results" : "multiple results"}.`,
      );
    }
    return this.next().value as T;
  }

  raw<U extends SqlStorageValue[] = SqlStorageValue[]>(): IterableIterator<U> & { toArray(): U[] } {
    const it: IterableIterator<U> & { toArray(): U[] } = {
      next: (): IteratorResult<U> => {
        const row = this.#rows[this.#position];
        if (row === undefined) return { done: true, value: undefined };
        this.#position++;
        return { done: false, value: row.slice() as U };
      },
      [Symbol.iterator]() {
        return it;
      },
      toArray(): U[] {
        const out: U[] = [];
        for (let r = it.next(); !r.done; r = it.next()) out.push(r.value);
        return out;
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
