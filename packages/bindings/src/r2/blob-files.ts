import { randomBytes, createHash, type Hash } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, type PathLike } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { R2_LIMITS } from "./r2-limits.ts";

/** The hash algorithms R2 checks, by option name. */
export const HASHES = [
  { field: "md5", name: "MD5", node: "md5" },
  { field: "sha1", name: "SHA-1", node: "sha1" },
  { field: "sha256", name: "SHA-256", node: "sha256" },
  { field: "sha384", name: "SHA-384", node: "sha384" },
  { field: "sha512", name: "SHA-512", node: "sha512" },
] as const;
export type HashField = (typeof HASHES)[number]["field"];

/** A blob written to disk: its id, size and the digests asked for. */
export interface WrittenBlob {
  id: string;
  size: number;
  digests: Map<HashField, Buffer>;
}

/** Bytes to store: a buffer, or chunks that arrive over time (a stream, parts to join). */
export type BlobSource = Uint8Array | AsyncIterable<unknown>;

function fsyncDir(dir: PathLike): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * One bucket's object bytes: one file per blob under `<bucket>/blobs/`, named by a
 * random id. A blob is written to a temporary name, fsynced and renamed (and its
 * folder fsynced) before any index row points at it, so an object the Worker saw
 * stored survives a crash whole; a crash before the index commit leaves only an
 * unreferenced file. Blobs are never changed, only replaced, so a reader holding a
 * file open keeps reading the version it found even if a writer replaces it.
 */
export class BlobFiles {
  readonly dir: string;

  constructor(bucketDir: string) {
    this.dir = join(bucketDir, "blobs");
    mkdirSync(this.dir, { recursive: true });
  }

  path(id: string): string {
    return join(this.dir, id);
  }

  /**
   * Writes `source` as a new blob, computing the digests named (MD5 always). Bytes past
   * `limit` are counted but not kept: the blob is then deleted and `size` tells how many came.
   */
  async write(source: BlobSource, fields: readonly HashField[], limit: number = R2_LIMITS.maxValueBytes): Promise<WrittenBlob> {
    const id = randomBytes(16).toString("hex");
    const tmp = `${this.path(id)}.tmp`;
    const hashes = new Map<HashField, Hash>(fields.map((f) => [f, createHash(HASHES.find((h) => h.field === f)!.node)]));
    const fd = openSync(tmp, "wx");
    let size = 0;
    let ok = false;
    try {
      const take = (chunk: Uint8Array) => {
        size += chunk.byteLength;
        if (size > limit) return;
        for (const hash of hashes.values()) hash.update(chunk);
        let offset = 0;
        while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset);
      };
      if (source instanceof Uint8Array) take(source);
      else {
        for await (const chunk of source) {
          if (!(chunk instanceof Uint8Array))
            throw new TypeError("This TransformStream is being used as a byte stream, but received a value that is not a BufferSource.");
          take(chunk);
        }
      }
      fsyncSync(fd);
      ok = true;
    } finally {
      closeSync(fd);
      if (!ok || size > limit) rmSync(tmp, { force: true });
    }
    if (size <= limit) {
      renameSync(tmp, this.path(id));
      fsyncDir(this.dir);
    }
    return { id, size, digests: new Map([...hashes].map(([f, h]) => [f, h.digest()])) };
  }

  /** Removes blobs no index row points at any more (missing ones are ignored). */
  remove(ids: Iterable<string>): void {
    for (const id of ids) rmSync(this.path(id), { force: true });
  }

  /** Streams bytes `start`..`end` (inclusive) of the blob, reading from an already open file. */
  static async *read(handle: import("node:fs/promises").FileHandle, start: number, end: number): AsyncGenerator<Uint8Array> {
    try {
      let position = start;
      while (position <= end) {
        const length = Math.min(64 * 1024, end - position + 1);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  /** Opens a blob for reading; null when it is gone (replaced meanwhile by another process). */
  async open(id: string): Promise<import("node:fs/promises").FileHandle | null> {
    try {
      return await open(this.path(id), "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }
}
