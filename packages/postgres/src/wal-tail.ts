/**
 * Reads the pages each commit added to an SQLite WAL file, right after the
 * commit, so they can be shipped as a {@link PageRecord}.
 *
 * A WAL file is a 32-byte header (salts identify its generation) and frames
 * of a 24-byte header (page number, database size in pages for a commit's
 * last frame, the salts) plus one page. Everything from where the previous
 * read stopped up to the last commit frame of the current generation belongs
 * to the commits made since. Frames after the last commit frame are a
 * rolled-back transaction's spilled pages, never committed, and are left out.
 * https://www.sqlite.org/fileformat2.html#walformat
 *
 * The storage runs SQLite's automatic checkpoint (every ~1,000 pages, inside
 * a COMMIT): the next write restarts the WAL from its start under new salts,
 * and the file keeps its size, so past the frames of the current generation
 * lie megabytes of the previous one's. A read therefore goes a few frames at
 * a time and stops at the first frame of another generation: reading to the
 * end of the file cost each commit of a one-object echo a read of ~2 MB on
 * average (1 ms at p50, tens of ms at p99 on a loaded machine) once its WAL
 * had restarted once.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isPageSize, type PageRecord } from "./page-record.ts";

const WAL_HEADER = 32;
const FRAME_HEADER = 24;
/** Frames of the first read: a small commit's; each further read of the same call doubles, up to MAX_READ_FRAMES. */
const FIRST_READ_FRAMES = 8;
const MAX_READ_FRAMES = 256;

/** The read position in one database's WAL. */
export class WalTail {
  readonly #path: string;
  #salt1 = -1;
  #salt2 = -1;
  /** Byte offset just past the last frame read. */
  #offset = WAL_HEADER;
  /** Bytes read from the WAL file so far (frames and headers), for tests and the bench. */
  bytesRead = 0;

  /** `database` is the main database file's path; its WAL is `<database>-wal`. */
  constructor(database: string) {
    this.#path = `${database}-wal`;
  }

  /** Call after a checkpoint that truncated or restarted the WAL, or after reopening the database. */
  reset(): void {
    this.#salt1 = -1;
    this.#salt2 = -1;
    this.#offset = WAL_HEADER;
  }

  /** The pages committed since the last read (merged when several commits), or null when none. */
  read(): PageRecord | null {
    let fd: number;
    try {
      fd = openSync(this.#path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < WAL_HEADER) return null;
      const header = Buffer.allocUnsafe(WAL_HEADER);
      this.#readFull(fd, header, 0);
      const pageSize = header.readUInt32BE(8);
      if (!isPageSize(pageSize)) throw new Error(`${this.#path}: bad WAL header (page size ${pageSize})`);
      const salt1 = header.readUInt32BE(16);
      const salt2 = header.readUInt32BE(20);
      if (salt1 !== this.#salt1 || salt2 !== this.#salt2) {
        // A new generation: its frames start right after the header.
        this.#salt1 = salt1;
        this.#salt2 = salt2;
        this.#offset = WAL_HEADER;
      }
      const frame = FRAME_HEADER + pageSize;
      // Frames of this generation from the offset on, in order (views into the read buffers; copied below).
      const frames: { pgno: number; page: Buffer }[] = [];
      /** Frames up to the last commit frame found, and the database size that frame gives. */
      let committedFrames = 0;
      let dbPages = 0;
      let at = this.#offset;
      let want = FIRST_READ_FRAMES;
      reading: while (size - at >= frame) {
        const n = Math.min(want, Math.floor((size - at) / frame));
        const bytes = Buffer.allocUnsafe(n * frame);
        this.#readFull(fd, bytes, at);
        for (let i = 0; i < n; i++) {
          const f = i * frame;
          // A frame of an earlier generation: the current one ends here.
          if (bytes.readUInt32BE(f + 8) !== salt1 || bytes.readUInt32BE(f + 12) !== salt2) break reading;
          frames.push({ pgno: bytes.readUInt32BE(f), page: bytes.subarray(f + FRAME_HEADER, f + frame) });
          const commitSize = bytes.readUInt32BE(f + 4);
          if (commitSize !== 0) {
            committedFrames = frames.length;
            dbPages = commitSize;
          }
        }
        at += n * frame;
        want = Math.min(MAX_READ_FRAMES, want * 2);
      }
      if (committedFrames === 0) return null;
      this.#offset += committedFrames * frame;
      // Later frames of a page win; pages past the final size were cut.
      const committed = new Map<number, Buffer>();
      for (let i = 0; i < committedFrames; i++) {
        const { pgno, page } = frames[i]!;
        if (pgno <= dbPages) committed.set(pgno, page);
      }
      // Copies of the pages kept, once each (a read buffer is shared by all its frames): not of a page's earlier
      // frames, nor of a rolled-back transaction's spilled ones.
      for (const [pgno, page] of committed) committed.set(pgno, Buffer.from(page));
      return { pageSize, dbPages, pages: committed };
    } finally {
      closeSync(fd);
    }
  }

  #readFull(fd: number, into: Buffer, position: number): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, into.length - done, position + done);
      if (n === 0) throw new Error("WAL file shorter than its size");
      done += n;
    }
    this.bytesRead += into.length;
  }
}
