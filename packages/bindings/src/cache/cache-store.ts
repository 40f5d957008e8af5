import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Database from "better-sqlite3";
import { openSharedDatabase } from "../shared-database.ts";
import { ifUnlocked, whenUnlocked } from "../lock-wait.ts";

/** One cached response as stored: its status, headers (as the cache answers them), body size and expiry. */
export interface CacheEntry {
  status: number;
  headers: Array<[string, string]>;
  size: number;
  /** Milliseconds since the epoch; a match at or after it is a miss. */
  expires: number;
  blob: string;
}

interface Row {
  status: number;
  headers: string;
  size: number;
  expires: number;
  blob: string;
}

/** Bounds of the cache on disk (every limit an option, so tests set them small). */
export interface CacheStoreLimits {
  /** Total body bytes kept; past it the entries stored first are evicted. Default 1 GiB. */
  maxTotalBytes: number;
  /** One body's bytes; a larger response is not stored (as Cloudflare's 512 MB object limit). */
  maxEntryBytes: number;
}

export const CACHE_STORE_LIMITS: CacheStoreLimits = { maxTotalBytes: 1024 * 1024 * 1024, maxEntryBytes: 512 * 1024 * 1024 };

/**
 * Cached responses under `<data dir>/cache`: an index in one SQLite file
 * (`cache.sqlite`, shared by a cluster's processes) and each body in a file of
 * its own under `bodies/`, streamed in and out (a body is never held in memory
 * whole). A body file is written completely before its row points at it, and
 * removed only after its row is gone; a reader that loses the race to a
 * replacing writer sees a miss.
 */
export class CacheStore {
  readonly #db: Database.Database;
  readonly #bodies: string;
  readonly #limits: CacheStoreLimits;
  readonly #get: Database.Statement<[string, string], Row>;
  readonly #replace: (entry: { cache: string; key: string } & Omit<CacheEntry, "headers"> & { headers: string; stored: number }) => string | undefined;
  readonly #delete: (cache: string, key: string) => string | undefined;
  readonly #evict: (now: number) => string[];

  constructor(dir: string, limits: Partial<CacheStoreLimits> = {}) {
    this.#limits = { ...CACHE_STORE_LIMITS, ...limits };
    this.#bodies = join(dir, "bodies");
    mkdirSync(this.#bodies, { recursive: true });
    this.#db = openSharedDatabase(join(dir, "cache.sqlite"), (db) =>
      db.exec(`CREATE TABLE IF NOT EXISTS entries (
      cache TEXT NOT NULL,
      key TEXT NOT NULL,
      status INTEGER NOT NULL,
      headers TEXT NOT NULL,
      size INTEGER NOT NULL,
      expires INTEGER NOT NULL,
      stored INTEGER NOT NULL,
      blob TEXT NOT NULL,
      PRIMARY KEY (cache, key)
    );
    CREATE INDEX IF NOT EXISTS entries_expires ON entries (expires);
    CREATE INDEX IF NOT EXISTS entries_stored ON entries (stored)`),
    );
    this.#get = this.#db.prepare("SELECT status, headers, size, expires, blob FROM entries WHERE cache = ? AND key = ?");
    const old = this.#db.prepare<[string, string], { blob: string }>("SELECT blob FROM entries WHERE cache = ? AND key = ?");
    const insert = this.#db.prepare(
      "INSERT OR REPLACE INTO entries (cache, key, status, headers, size, expires, stored, blob) VALUES (@cache, @key, @status, @headers, @size, @expires, @stored, @blob)",
    );
    const remove = this.#db.prepare("DELETE FROM entries WHERE cache = ? AND key = ?");
    // Each write transaction reads first: taking the write lock at BEGIN (.immediate) keeps two processes from deadlocking on the upgrade.
    this.#replace = this.#db.transaction((entry: { cache: string; key: string } & Omit<CacheEntry, "headers"> & { headers: string; stored: number }) => {
      const previous = old.get(entry.cache, entry.key)?.blob;
      insert.run(entry);
      return previous;
    }).immediate;
    this.#delete = this.#db.transaction((cache: string, key: string) => {
      const previous = old.get(cache, key)?.blob;
      if (previous !== undefined) remove.run(cache, key);
      return previous;
    }).immediate;
    const expired = this.#db.prepare<[number], { blob: string }>("DELETE FROM entries WHERE expires <= ? RETURNING blob");
    const total = this.#db.prepare<[], { total: number | null }>("SELECT SUM(size) AS total FROM entries");
    const oldest = this.#db.prepare<[], { cache: string; key: string; size: number; blob: string }>(
      "SELECT cache, key, size, blob FROM entries ORDER BY stored LIMIT 64",
    );
    this.#evict = this.#db.transaction((now: number) => {
      const gone = expired.all(now).map((r) => r.blob);
      let bytes = total.get()?.total ?? 0;
      while (bytes > this.#limits.maxTotalBytes) {
        const batch = oldest.all();
        if (batch.length === 0) break;
        for (const row of batch) {
          if (bytes <= this.#limits.maxTotalBytes) break;
          remove.run(row.cache, row.key);
          gone.push(row.blob);
          bytes -= row.size;
        }
      }
      return gone;
    }).immediate;
  }

  /** The entry of `key` in `cache`, or undefined (expired entries are misses, and are removed). */
  get(cache: string, key: string, now: number): CacheEntry | undefined {
    const row = this.#get.get(cache, key);
    if (row === undefined) return undefined;
    if (row.expires <= now) {
      ifUnlocked(() => this.#removeBlobs(this.#evict(now)));
      return undefined;
    }
    return { ...row, headers: JSON.parse(row.headers) as Array<[string, string]> };
  }

  /** A stream of the body of `entry` (bytes `start`..`end` inclusive when given), or undefined if it was replaced meanwhile. */
  async body(entry: CacheEntry, range?: { start: number; end: number }): Promise<ReadableStream<Uint8Array> | undefined> {
    const stream = createReadStream(join(this.#bodies, entry.blob), range);
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once("open", () => resolve());
        stream.once("error", reject);
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
  }

  /**
   * Streams `body` to a new file and points `key` at it. Returns false (and keeps
   * nothing) when the body is larger than `maxEntryBytes`.
   */
  async put(cache: string, key: string, entry: Omit<CacheEntry, "size" | "blob">, body: ReadableStream<Uint8Array> | null, now: number): Promise<boolean> {
    const blob = randomUUID();
    const path = join(this.#bodies, blob);
    let size = 0;
    const max = this.#limits.maxEntryBytes;
    try {
      const source = body === null ? Readable.from([]) : Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>);
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            size += chunk.byteLength;
            if (size > max) throw new TooLarge();
            yield chunk;
          }
        },
        createWriteStream(path),
      );
    } catch (error) {
      rmSync(path, { force: true });
      if (error instanceof TooLarge) return false;
      throw error;
    }
    const row = { cache, key, ...entry, headers: JSON.stringify(entry.headers), size, blob, stored: now };
    let previous: string | undefined;
    try {
      previous = await whenUnlocked(() => this.#replace(row));
    } catch (error) {
      rmSync(path, { force: true });
      throw error;
    }
    // Eviction keeps the cache under its size limit, so it waits for the lock too.
    this.#removeBlobs([...(previous === undefined ? [] : [previous]), ...(await whenUnlocked(() => this.#evict(now)))]);
    return true;
  }

  /** Removes `key` from `cache`; true if it was there. */
  async delete(cache: string, key: string): Promise<boolean> {
    const previous = await whenUnlocked(() => this.#delete(cache, key));
    if (previous === undefined) return false;
    this.#removeBlobs([previous]);
    return true;
  }

  close(): void {
    this.#db.close();
  }

  #removeBlobs(blobs: string[]): void {
    for (const blob of blobs) rmSync(join(this.#bodies, blob), { force: true });
  }
}

class TooLarge extends Error {}
