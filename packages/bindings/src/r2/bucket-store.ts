import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, read } from "node:fs";
import { join } from "node:path";
import type { Clock } from "@torpor/core";
import { BlobFiles, type BlobSource, type HashField } from "./blob-files.ts";
import { BucketIndex, type ObjectRow, type PartRow } from "./bucket-index.ts";
import {
  badDigest,
  badUpload,
  entityTooLarge,
  entityTooSmall,
  internalError,
  invalidMaxKeys,
  invalidObjectName,
  invalidPart,
  invalidRange,
  metadataTooLarge,
  noSuchUpload,
} from "./r2-errors.ts";
import { R2_LIMITS } from "./r2-limits.ts";
import { meetsConditional, type Conditional, type RangeRequest } from "./r2-options.ts";
import { whenUnlocked } from "../lock-wait.ts";

/** What `put` stores besides the bytes. */
export interface PutRequest {
  httpMetadata: string;
  customMetadata: Record<string, string>;
  checksum: { field: HashField; bytes: Buffer } | undefined;
  onlyIf: Conditional | undefined;
}

/** A get's outcome: no object, a failed condition (the metadata only), or the body of a range. */
export type GetOutcome =
  | { kind: "missing" }
  | { kind: "precondition-failed"; row: ObjectRow }
  | { kind: "body"; row: ObjectRow; offset: number; length: number; body: ReadableStream<Uint8Array> };

/** A list page, as R2 returns it. */
export interface ListPage {
  rows: ObjectRow[];
  truncated: boolean;
  cursor: string | undefined;
  delimitedPrefixes: string[];
}

/** R2's bookkeeping of custom metadata size: a key or value with any character past U+00FF counts two bytes per character. */
function serialisedLength(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 256) return text.length * 2;
  return text.length;
}

/** Miniflare's MD5-of-MD5s multipart etag: `<hex>-<parts>`. */
function multipartEtag(md5s: string[]): string {
  const hash = createHash("md5");
  for (const md5 of md5s) hash.update(Buffer.from(md5, "hex"));
  return `${hash.digest("hex")}-${md5s.length}`;
}

/** A stream over bytes `start`..`start + length - 1` of an open file; the file is closed at the end, on cancel or on error. */
function fileStream(fd: number, start: number, length: number): ReadableStream<Uint8Array> {
  let position = start;
  const end = start + length;
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      closeSync(fd);
    }
  };
  if (length === 0) close();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (position >= end) {
        close();
        controller.close();
        return;
      }
      const size = Math.min(64 * 1024, end - position);
      const buffer = Buffer.allocUnsafe(size);
      try {
        const bytesRead = await new Promise<number>((resolve, reject) => read(fd, buffer, 0, size, position, (e, n) => (e ? reject(e) : resolve(n))));
        if (bytesRead === 0) throw new Error(`R2 blob ended ${end - position} bytes early`);
        position += bytesRead;
        controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead));
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel: close,
  });
}

/**
 * One bucket on disk (`<data dir>/r2/<bucket>/`): the index and the blob files, and the
 * operations of Miniflare's local R2 service on them, with its checks and errors.
 * Every process of a cluster opens it; see BucketIndex and BlobFiles for how they agree.
 */
export class BucketStore {
  readonly #index: BucketIndex;
  readonly #blobs: BlobFiles;
  readonly #clock: Clock;

  constructor(dir: string, clock: Clock) {
    this.#blobs = new BlobFiles(dir);
    this.#index = new BucketIndex(join(dir, "index.sqlite"));
    this.#clock = clock;
  }

  checkKey(key: string): void {
    if (Buffer.byteLength(key) > R2_LIMITS.maxKeyBytes) throw invalidObjectName();
  }

  head(key: string): ObjectRow | undefined {
    this.checkKey(key);
    return this.#index.get(key);
  }

  async get(key: string, onlyIf: Conditional | undefined, range: RangeRequest | undefined): Promise<GetOutcome> {
    this.checkKey(key);
    // A writer in another process may replace the object (and delete its blob) between
    // reading the row and opening the file: read the row again then.
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = this.#index.get(key);
      if (row === undefined) return { kind: "missing" };
      if (onlyIf !== undefined && !meetsConditional(onlyIf, row)) return { kind: "precondition-failed", row };
      const { offset, length } = resolveRange(range, row.size);
      let fd: number;
      try {
        fd = openSync(this.#blobs.path(row.blob_id), "r");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      return { kind: "body", row, offset, length, body: fileStream(fd, offset, length) };
    }
    throw internalError();
  }

  async put(key: string, source: BlobSource, request: PutRequest): Promise<ObjectRow | null> {
    const fields: HashField[] = ["md5", ...(request.checksum !== undefined && request.checksum.field !== "md5" ? [request.checksum.field] : [])];
    const blob = await this.#blobs.write(source, fields);
    try {
      // Miniflare's order: the name, the size, the metadata, then the checksum.
      this.checkKey(key);
      if (blob.size > R2_LIMITS.maxValueBytes) throw entityTooLarge();
      let metadataSize = 0;
      for (const [k, v] of Object.entries(request.customMetadata)) metadataSize += serialisedLength(k) + serialisedLength(v);
      if (metadataSize > R2_LIMITS.maxMetadataBytes) throw metadataTooLarge();
      const checksums: Record<string, string> = {};
      if (request.checksum !== undefined) {
        const { field, bytes } = request.checksum;
        const actual = blob.digests.get(field)!;
        if (!bytes.equals(actual))
          throw badDigest({ md5: "MD5", sha1: "SHA-1", sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" }[field], bytes, actual);
        if (field !== "md5") checksums[field] = actual.toString("hex");
      }
      const row: ObjectRow = {
        key,
        blob_id: blob.id,
        version: randomBytes(16).toString("hex"),
        size: blob.size,
        etag: blob.digests.get("md5")!.toString("hex"),
        uploaded: this.#clock.now(),
        checksums: JSON.stringify(checksums),
        http_metadata: request.httpMetadata,
        custom_metadata: JSON.stringify(request.customMetadata),
      };
      const onlyIf = request.onlyIf;
      const { stored, garbage } = await whenUnlocked(() =>
        this.#index.put(row, onlyIf === undefined ? undefined : (previous) => meetsConditional(onlyIf, previous)),
      );
      if (!stored) {
        this.#blobs.remove([blob.id]);
        return null;
      }
      this.#blobs.remove(garbage);
      return row;
    } catch (error) {
      this.#blobs.remove([blob.id]);
      throw error;
    }
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) this.checkKey(key);
    this.#blobs.remove(await whenUnlocked(() => this.#index.delete(keys)));
  }

  list(options: {
    prefix: string;
    limit: number | undefined;
    cursor: string | undefined;
    startAfter: string | undefined;
    delimiter: string | undefined;
    withMetadata: boolean;
  }): ListPage {
    let limit = options.limit ?? R2_LIMITS.maxListKeys;
    if (limit < 1 || limit > R2_LIMITS.maxListKeys) throw invalidMaxKeys();
    // R2 may return fewer objects when it includes their metadata; locally, at most 100.
    if (options.withMetadata) limit = Math.min(limit, R2_LIMITS.maxListKeysWithMetadata);
    let startAfter = options.startAfter ?? null;
    if (options.cursor !== undefined) {
      const fromCursor = Buffer.from(options.cursor, "base64").toString("utf8");
      if (startAfter === null || fromCursor > startAfter) startAfter = fromCursor;
    }
    const delimiter = options.delimiter === "" ? undefined : options.delimiter;
    const entries = this.#index.list({ prefix: options.prefix, startAfter, delimiter, limit: limit + 1 });
    const truncated = entries.length > limit;
    if (truncated) entries.length = limit;
    const rows: ObjectRow[] = [];
    const delimitedPrefixes: string[] = [];
    for (const entry of entries) {
      if (entry.kind === "prefix") delimitedPrefixes.push(entry.prefix);
      else rows.push(entry.row);
    }
    const last = entries.at(-1);
    const lastKey = last === undefined ? undefined : last.kind === "prefix" ? last.lastKey : last.row.key;
    return { rows, truncated, cursor: truncated && lastKey !== undefined ? Buffer.from(lastKey, "utf8").toString("base64") : undefined, delimitedPrefixes };
  }

  async createUpload(key: string, httpMetadata: string, customMetadata: Record<string, string>): Promise<string> {
    this.checkKey(key);
    return whenUnlocked(() => this.#index.createUpload(key, httpMetadata, JSON.stringify(customMetadata)));
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, source: BlobSource): Promise<string> {
    this.checkKey(key);
    const blob = await this.#blobs.write(source, ["md5"]);
    try {
      const part = { part_number: partNumber, blob_id: blob.id, size: blob.size, md5: blob.digests.get("md5")!.toString("hex") };
      const { etag, garbage } = await whenUnlocked(() => this.#index.putPart(key, uploadId, part));
      this.#blobs.remove(garbage);
      return etag;
    } catch (error) {
      this.#blobs.remove([blob.id]);
      throw error;
    }
  }

  /** Joins the chosen parts into one blob and stores the object (Miniflare's checks, in its order). */
  async completeUpload(key: string, uploadId: string, selected: Array<{ part: number; etag: string }>): Promise<ObjectRow> {
    this.checkKey(key);
    const upload = this.#index.uploadForCompletion(key, uploadId);
    const numbers = new Set<number>();
    for (const { part } of selected) {
      if (numbers.has(part)) throw internalError();
      numbers.add(part);
    }
    const parts: PartRow[] = selected.map(({ part, etag }) => {
      const uploaded = upload.parts.get(part);
      if (uploaded?.etag !== etag) throw invalidPart();
      return uploaded;
    });
    for (const part of parts.slice(0, -1)) if (part.size < R2_LIMITS.minPartBytes) throw entityTooSmall();
    const ordered = [...parts].sort((a, b) => a.part_number - b.part_number);
    let partSize: number | undefined;
    for (const part of ordered.slice(0, -1)) {
      partSize ??= part.size;
      if (part.size < R2_LIMITS.minPartBytes || part.size !== partSize) throw badUpload();
    }
    if (partSize !== undefined && ordered.at(-1)!.size > partSize) throw badUpload();

    const blobs = this.#blobs;
    const joined = await blobs.write(
      (async function* () {
        for (const part of parts) {
          const fd = openSync(blobs.path(part.blob_id), "r");
          yield* fileStream(fd, 0, part.size) as unknown as AsyncIterable<Uint8Array>;
        }
      })(),
      [],
      Number.POSITIVE_INFINITY,
    );
    const row: ObjectRow = {
      key,
      blob_id: joined.id,
      version: randomBytes(16).toString("hex"),
      size: joined.size,
      etag: multipartEtag(parts.map((p) => p.md5)),
      uploaded: this.#clock.now(),
      checksums: "{}",
      http_metadata: upload.httpMetadata,
      custom_metadata: upload.customMetadata,
    };
    try {
      this.#blobs.remove(await whenUnlocked(() => this.#index.completeUpload(key, uploadId, parts, row)));
    } catch (error) {
      this.#blobs.remove([joined.id]);
      throw error;
    }
    return row;
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    this.checkKey(key);
    this.#blobs.remove(await whenUnlocked(() => this.#index.abortUpload(key, uploadId)));
  }

  close(): void {
    this.#index.close();
  }
}

/** The bytes a range request selects, as Miniflare resolves it: a Range header with one range, or offset/length/suffix. */
export function resolveRange(range: RangeRequest | undefined, size: number): { offset: number; length: number } {
  if (range === undefined) return { offset: 0, length: size };
  if ("header" in range) {
    const ranges = parseRangeHeader(range.header, size);
    // Several ranges, or an invalid header: the whole object.
    if (ranges?.length !== 1) return { offset: 0, length: size };
    return { offset: ranges[0]!.start, length: ranges[0]!.end - ranges[0]!.start + 1 };
  }
  let { offset, length } = range;
  let suffix = range.suffix;
  if (suffix !== undefined) {
    if (suffix <= 0) throw invalidRange();
    if (suffix > size) suffix = size;
    offset = size - suffix;
    length = suffix;
  }
  offset ??= 0;
  length ??= size - offset;
  if (offset < 0 || offset > size || length <= 0) throw invalidRange();
  if (offset + length > size) length = size - offset;
  // Miniflare fails on an empty range of an empty object ("Unspecified error"); R2 refuses it.
  if (length <= 0) throw invalidRange();
  return { offset, length };
}

/** An HTTP Range header's byte ranges (inclusive), [] for the whole object, undefined when unsatisfiable. */
function parseRangeHeader(header: string, size: number): Array<{ start: number; end: number }> | undefined {
  const prefix = /^ *bytes *=/i.exec(header);
  if (prefix === null) return undefined;
  const rest = header.slice(prefix[0].length);
  if (rest.trimStart() === "") return [];
  const out: Array<{ start: number; end: number }> = [];
  for (const part of rest.split(",")) {
    const m = /^ *(\d+)? *- *(\d+)? *$/.exec(part);
    if (m === null) return undefined;
    const [, start, end] = m;
    if (start !== undefined && end !== undefined) {
      const s = Number.parseInt(start, 10);
      const e = Math.min(Number.parseInt(end, 10), size - 1);
      if (s > Number.parseInt(end, 10) || s >= size) return undefined;
      out.push({ start: s, end: e });
    } else if (start !== undefined) {
      const s = Number.parseInt(start, 10);
      if (s >= size) return undefined;
      out.push({ start: s, end: size - 1 });
    } else if (end !== undefined) {
      const suffix = Number.parseInt(end, 10);
      if (suffix >= size) return [];
      if (suffix === 0) continue;
      out.push({ start: size - suffix, end: size - 1 });
    } else return undefined;
  }
  return out;
}
