import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { prefixEnd } from "../key-range.ts";
import { openSharedDatabase } from "../shared-database.ts";
import { internalError, invalidPart, noSuchUpload } from "./r2-errors.ts";

/** One stored object. JSON columns hold what the binding returns. */
export interface ObjectRow {
  key: string;
  blob_id: string;
  version: string;
  size: number;
  etag: string;
  /** Milliseconds since the epoch. */
  uploaded: number;
  /** JSON: the checksums given at upload (hex), besides the MD5 the etag is. */
  checksums: string;
  http_metadata: string;
  custom_metadata: string;
}

/** One uploaded part of a multipart upload. */
export interface PartRow {
  part_number: number;
  blob_id: string;
  size: number;
  etag: string;
  md5: string;
}

/** A list query's options, already validated. */
export interface ListQuery {
  prefix: string;
  startAfter: string | null;
  delimiter: string | undefined;
  limit: number;
}

/** A list page: objects, or a delimited prefix with the last key it covers. */
export type ListRow = { kind: "object"; row: ObjectRow } | { kind: "prefix"; prefix: string; lastKey: string };

const UPLOAD_IN_PROGRESS = 0;
const UPLOAD_COMPLETED = 1;
const UPLOAD_ABORTED = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  key TEXT PRIMARY KEY,
  blob_id TEXT NOT NULL,
  version TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  uploaded INTEGER NOT NULL,
  checksums TEXT NOT NULL,
  http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL,
  state INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  md5 TEXT NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
`;

/**
 * One bucket's index in SQLite (`<bucket>/index.sqlite`), shared by every process
 * of a cluster: objects, multipart uploads and their parts, each pointing at blob
 * files. Changes that read first (conditional puts, completing an upload) run in
 * `BEGIN IMMEDIATE` transactions, so a check and the write it allows are one step
 * for every process. Each change returns the blobs no row points at any more, for
 * the caller to delete after the commit.
 */
export class BucketIndex {
  readonly #db: Database.Database;
  readonly #getObject: Database.Statement<[string], ObjectRow>;
  readonly #putObject: Database.Statement<[ObjectRow]>;
  readonly #deleteObject: Database.Statement<[string], { blob_id: string }>;

  constructor(path: string) {
    this.#db = openSharedDatabase(path, (db) => db.exec(SCHEMA));
    this.#getObject = this.#db.prepare("SELECT * FROM objects WHERE key = ?");
    this.#putObject = this.#db.prepare(
      `INSERT OR REPLACE INTO objects (key, blob_id, version, size, etag, uploaded, checksums, http_metadata, custom_metadata)
       VALUES (@key, @blob_id, @version, @size, @etag, @uploaded, @checksums, @http_metadata, @custom_metadata)`,
    );
    this.#deleteObject = this.#db.prepare("DELETE FROM objects WHERE key = ? RETURNING blob_id");
  }

  get(key: string): ObjectRow | undefined {
    return this.#getObject.get(key);
  }

  /**
   * Stores `row` unless `allowed(previous)` says no (then false and nothing changes).
   * Returns the replaced blob, if any.
   */
  put(row: ObjectRow, allowed?: (previous: ObjectRow | undefined) => boolean): { stored: boolean; garbage: string[] } {
    return this.#db
      .transaction(() => {
        const previous = this.#getObject.get(row.key);
        if (allowed !== undefined && !allowed(previous)) return { stored: false, garbage: [] };
        this.#putObject.run(row);
        return { stored: true, garbage: previous === undefined ? [] : [previous.blob_id] };
      })
      .immediate();
  }

  /** Deletes the keys (missing ones are fine); returns their blobs. */
  delete(keys: string[]): string[] {
    return this.#db.transaction(() => keys.flatMap((key) => this.#deleteObject.all(key).map((r) => r.blob_id))).immediate();
  }

  /**
   * Up to `limit` entries in key order after `startAfter` under `prefix`: objects, and
   * with a delimiter, each prefix up to the delimiter once (in the place of its last key).
   */
  list(query: ListQuery): ListRow[] {
    const end = prefixEnd(query.prefix);
    const params = { prefix: query.prefix, end, after: query.startAfter ?? "", limit: query.limit };
    const range = `key >= @prefix ${end === "" ? "" : "AND key < @end"} AND (@after = '' OR key > @after)`;
    if (query.delimiter === undefined) {
      return this.#db
        .prepare<[typeof params], ObjectRow>(`SELECT * FROM objects WHERE ${range} ORDER BY key LIMIT @limit`)
        .all(params)
        .map((row) => ({ kind: "object", row }));
    }
    // Group keys by their text up to and including the first delimiter after the prefix;
    // keys without one stay alone. Each group sorts by its last key, which the cursor resumes after.
    const rows = this.#db
      .prepare<[typeof params & { delimiter: string }], ObjectRow & { last_key: string; grp: string }>(
        `SELECT *, max(key) AS last_key,
           iif(instr(substr(key, length(@prefix) + 1), @delimiter),
               'p:' || substr(key, 1, length(@prefix) + instr(substr(key, length(@prefix) + 1), @delimiter) + length(@delimiter) - 1),
               'k:' || key) AS grp
         FROM objects WHERE ${range}
         GROUP BY grp ORDER BY last_key LIMIT @limit`,
      )
      .all({ ...params, delimiter: query.delimiter });
    return rows.map((r) => {
      if (r.grp.startsWith("p:")) return { kind: "prefix", prefix: r.grp.slice(2), lastKey: r.last_key };
      const { last_key: _last, grp: _grp, ...row } = r;
      return { kind: "object", row: { ...row, key: r.last_key } };
    });
  }

  /** Starts an upload; returns its id (random, as R2's are). */
  createUpload(key: string, httpMetadata: string, customMetadata: string): string {
    const id = randomBytes(128).toString("base64url");
    this.#db.prepare("INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata) VALUES (?, ?, ?, ?)").run(id, key, httpMetadata, customMetadata);
    return id;
  }

  /** Records a part (replacing one with the same number); returns its etag and the replaced blob. */
  putPart(key: string, uploadId: string, part: Omit<PartRow, "etag">): { etag: string; garbage: string[] } {
    return this.#db
      .transaction(() => {
        this.#requireInProgress(key, uploadId, noSuchUpload);
        const previous = this.#db
          .prepare<[string, number], { blob_id: string }>("SELECT blob_id FROM parts WHERE upload_id = ? AND part_number = ?")
          .get(uploadId, part.part_number);
        const etag = randomBytes(128).toString("base64url");
        this.#db
          .prepare("INSERT OR REPLACE INTO parts (upload_id, part_number, blob_id, size, etag, md5) VALUES (?, ?, ?, ?, ?, ?)")
          .run(uploadId, part.part_number, part.blob_id, part.size, etag, part.md5);
        return { etag, garbage: previous === undefined ? [] : [previous.blob_id] };
      })
      .immediate();
  }

  /** The upload's metadata and its parts, if it is in progress (R2's errors otherwise). */
  uploadForCompletion(key: string, uploadId: string): { httpMetadata: string; customMetadata: string; parts: Map<number, PartRow> } {
    const upload = this.#db
      .prepare<[string, string], { http_metadata: string; custom_metadata: string; state: number }>(
        "SELECT http_metadata, custom_metadata, state FROM uploads WHERE upload_id = ? AND key = ?",
      )
      .get(uploadId, key);
    if (upload === undefined) throw internalError();
    if (upload.state !== UPLOAD_IN_PROGRESS) throw noSuchUpload();
    const parts = this.#db.prepare<[string], PartRow>("SELECT part_number, blob_id, size, etag, md5 FROM parts WHERE upload_id = ?").all(uploadId);
    return { httpMetadata: upload.http_metadata, customMetadata: upload.custom_metadata, parts: new Map(parts.map((p) => [p.part_number, p])) };
  }

  /**
   * Completes an upload whose parts were joined into `row.blob_id`: checks (again, under the
   * write lock) that it is still in progress with the same parts, stores the object, and
   * marks the upload completed. Returns the blobs to delete: every part, and the replaced object's.
   */
  completeUpload(key: string, uploadId: string, chosen: PartRow[], row: ObjectRow): string[] {
    return this.#db
      .transaction(() => {
        this.#requireInProgress(key, uploadId, noSuchUpload);
        const parts = this.#db.prepare<[string], PartRow>("SELECT part_number, blob_id, size, etag, md5 FROM parts WHERE upload_id = ?").all(uploadId);
        const byNumber = new Map(parts.map((p) => [p.part_number, p]));
        for (const part of chosen) if (byNumber.get(part.part_number)?.etag !== part.etag) throw invalidPart();
        const previous = this.#getObject.get(key);
        this.#putObject.run(row);
        this.#db.prepare("DELETE FROM parts WHERE upload_id = ?").run(uploadId);
        this.#db.prepare("UPDATE uploads SET state = ? WHERE upload_id = ?").run(UPLOAD_COMPLETED, uploadId);
        return [...parts.map((p) => p.blob_id), ...(previous === undefined ? [] : [previous.blob_id])];
      })
      .immediate();
  }

  /** Aborts an upload (a finished one is left as it is); returns its parts' blobs. */
  abortUpload(key: string, uploadId: string): string[] {
    return this.#db
      .transaction(() => {
        const upload = this.#db.prepare<[string, string], { state: number }>("SELECT state FROM uploads WHERE upload_id = ? AND key = ?").get(uploadId, key);
        if (upload === undefined) throw internalError();
        if (upload.state !== UPLOAD_IN_PROGRESS) return [];
        const blobs = this.#db.prepare<[string], { blob_id: string }>("DELETE FROM parts WHERE upload_id = ? RETURNING blob_id").all(uploadId);
        this.#db.prepare("UPDATE uploads SET state = ? WHERE upload_id = ?").run(UPLOAD_ABORTED, uploadId);
        return blobs.map((b) => b.blob_id);
      })
      .immediate();
  }

  close(): void {
    this.#db.close();
  }

  #requireInProgress(key: string, uploadId: string, error: () => Error): void {
    const upload = this.#db.prepare<[string, string], { state: number }>("SELECT state FROM uploads WHERE upload_id = ? AND key = ?").get(uploadId, key);
    if (upload?.state !== UPLOAD_IN_PROGRESS) throw error();
  }
}
