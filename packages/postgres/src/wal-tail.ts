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
/**
 * Frames of the first read: a small commit's (a row or two writes two or three pages); each further read of the same
 * call doubles, up to MAX_READ_FRAMES.
 */
const FIRST_READ_FRAMES = 4;
const MAX_READ_FRAMES = 256;

/**
 * The read position in one database's WAL. The file stays open between reads (a commit costs a stat and two reads,
 * not also an open and a close) until {@link WalTail.reset} or {@link WalTail.close}. SQLite deletes the WAL when it
 * closes the database and makes a new file when it opens it again: the owner calls one of them whenever that
 * happens, and a read that finds its file deleted (no links left) opens the path again, so a descriptor of a
 * deleted WAL never hides a newer file's commits.
 */
export class WalTail {
  readonly #path: string;
  #fd: number | null = null;
  #salt1 = -1;
  #salt2 = -1;
  /** Byte offset just past the last frame read. */
  #offset = WAL_HEADER;
  /** The first read of every call goes here: its frames are views until their pages are copied out, before it returns. */
  #scratch: Buffer | null = null;
  /** Bytes read from the WAL file so far (frames and headers), for tests and the bench. */
  bytesRead = 0;
  /** Times the WAL file was opened, for tests. */
  opens = 0;

  /** `database` is the main database file's path; its WAL is `<database>-wal`. */
  constructor(database: string) {
    this.#path = `${database}-wal`;
  }

  /** Call after a checkpoint that truncated or restarted the WAL, or after reopening the database. */
  reset(): void {
    this.close();
    this.#salt1 = -1;
    this.#salt2 = -1;
    this.#offset = WAL_HEADER;
  }

  /** Closes the WAL file (the next read opens it again). Call when the database closes. */
  close(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
  }

  /** The open WAL file and its size, or null when there is none. */
  #open(): { fd: number; size: number } | null {
    if (this.#fd !== null) {
      const stat = fstatSync(this.#fd);
      if (stat.nlink > 0) return { fd: this.#fd, size: stat.size };
      // Deleted (the database was closed and maybe opened again without a reset): its path may name a newer file.
      this.close();
    }
    try {
      this.#fd = openSync(this.#path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    this.opens++;
    return { fd: this.#fd, size: fstatSync(this.#fd).size };
  }

  /** The pages committed since the last read (merged when several commits), or null when none. */
  read(): PageRecord | null {
    const file = this.#open();
    if (file === null) return null;
    const { fd, size } = file;
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
      let bytes: Buffer;
      if (at === this.#offset) {
        // The first read of this call, into the buffer every call reuses: a new 16 KB buffer per commit cost more
        // than reading into it.
        if (this.#scratch === null || this.#scratch.length < FIRST_READ_FRAMES * frame) this.#scratch = Buffer.allocUnsafe(FIRST_READ_FRAMES * frame);
        bytes = this.#scratch.subarray(0, n * frame);
      } else bytes = Buffer.allocUnsafe(n * frame);
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
    // Copies of the pages kept, once each (a read buffer is shared by all its frames, and the first one is reused by
    // the next call): not of a page's earlier frames, nor of a rolled-back transaction's spilled ones.
    for (const [pgno, page] of committed) committed.set(pgno, Buffer.from(page));
    return { pageSize, dbPages, pages: committed };
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
