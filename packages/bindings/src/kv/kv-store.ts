import type Database from "better-sqlite3";
import { prefixEnd } from "../key-range.ts";
import { ifUnlocked, whenUnlocked } from "../lock-wait.ts";
import { openSharedDatabase } from "../shared-database.ts";

/** One stored entry: its value's bytes, expiration (seconds since the epoch) and metadata (JSON text). */
export interface KvEntry {
  value: Buffer;
  expiration: number | null;
  metadata: string | null;
}

interface ListParams {
  prefix: string;
  end?: string;
  after: string;
  now: number;
  limit: number;
}

/** One key of a list page. */
export interface KvListedKey {
  key: string;
  expiration: number | null;
  metadata: string | null;
}

/**
 * A KV namespace's entries in one SQLite file (`<data dir>/kv/<id>.sqlite`),
 * shared by every process of a cluster. Each operation is one statement, so
 * concurrent writers from several processes each see a write whole (the last
 * one wins, as on Cloudflare). Keys compare as UTF-8 bytes (SQLite's BINARY
 * collation), which is the order KV lists them in.
 *
 * Expired entries read as missing; they are deleted when read and by list()
 * (as Miniflare does), so the file does not keep them.
 */
export class KvStore {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], KvEntry>;
  readonly #put: Database.Statement<[string, Buffer, number | null, string | null]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #deleteIfExpired: Database.Statement<[string, number]>;
  readonly #list: Database.Statement<[ListParams], KvListedKey>;
  readonly #listBounded: Database.Statement<[ListParams], KvListedKey>;
  readonly #deleteExpired: Database.Statement<[number]>;

  constructor(path: string) {
    this.#db = openSharedDatabase(path, (db) =>
      db.exec(`CREATE TABLE IF NOT EXISTS entries (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        expiration INTEGER,
        metadata TEXT
      ) WITHOUT ROWID`),
    );
    this.#get = this.#db.prepare("SELECT value, expiration, metadata FROM entries WHERE key = ?");
    this.#put = this.#db.prepare("INSERT OR REPLACE INTO entries (key, value, expiration, metadata) VALUES (?, ?, ?, ?)");
    this.#delete = this.#db.prepare("DELETE FROM entries WHERE key = ?");
    this.#deleteIfExpired = this.#db.prepare("DELETE FROM entries WHERE key = ? AND expiration IS NOT NULL AND expiration * 1000 <= ?");
    // @end is the first key past the prefix's range (none for an empty prefix); @after the cursor's key.
    const select = "SELECT key, expiration, metadata FROM entries WHERE key >= @prefix AND key > @after AND (expiration IS NULL OR expiration * 1000 > @now)";
    this.#list = this.#db.prepare(`${select} ORDER BY key LIMIT @limit`);
    this.#listBounded = this.#db.prepare(`${select} AND key < @end ORDER BY key LIMIT @limit`);
    this.#deleteExpired = this.#db.prepare("DELETE FROM entries WHERE expiration IS NOT NULL AND expiration * 1000 <= ?");
  }

  /** The live entry under `key`, or null (an expired one is deleted). `now` is in milliseconds. */
  get(key: string, now: number): KvEntry | null {
    const row = this.#get.get(key);
    if (row === undefined) return null;
    if (row.expiration !== null && row.expiration * 1000 <= now) {
      // Only if still expired: another process may have written a new value since.
      ifUnlocked(() => this.#deleteIfExpired.run(key, now));
      return null;
    }
    return row;
  }

  /** Resolves once the entry is durable; waits (on timers) while another process holds the write lock. */
  async put(key: string, entry: KvEntry): Promise<void> {
    await whenUnlocked(() => this.#put.run(key, entry.value, entry.expiration, entry.metadata));
  }

  async delete(key: string): Promise<void> {
    await whenUnlocked(() => this.#delete.run(key));
  }

  /**
   * Up to `limit` live keys starting with `prefix` and greater than `startAfter`,
   * in key order; expired entries are swept. `now` is in milliseconds.
   */
  list(prefix: string, startAfter: string, limit: number, now: number): KvListedKey[] {
    const end = prefixEnd(prefix);
    const rows = end === "" ? this.#list.all({ prefix, after: startAfter, now, limit }) : this.#listBounded.all({ prefix, end, after: startAfter, now, limit });
    ifUnlocked(() => this.#deleteExpired.run(now));
    return rows;
  }

  close(): void {
    this.#db.close();
  }
}
