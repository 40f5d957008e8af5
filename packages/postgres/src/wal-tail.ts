/**
 * Reads the pages each commit added to an SQLite WAL file, right after the
 * commit, so they can be shipped as a {@link PageRecord}.
 *
 * The database runs with `wal_autocheckpoint = 0`: SQLite never restarts the
 * WAL on its own, only when we checkpoint (between commits) or close it. A
 * WAL file is a 32-byte header (salts identify its generation) and frames of
 * a 24-byte header (page number, database size in pages for a commit's last
 * frame, the salts) plus one page. Everything from where the previous read
 * stopped up to the last commit frame of the current generation belongs to
 * the commits made since. Frames after the last commit frame are a rolled-back
 * transaction's spilled pages, never committed, and are left out.
 * https://www.sqlite.org/fileformat2.html#walformat
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isPageSize, type PageRecord } from "./page-record.ts";

const WAL_HEADER = 32;
const FRAME_HEADER = 24;

/** The read position in one database's WAL. */
export class WalTail {
  readonly #path: string;
  #salt1 = -1;
  #salt2 = -1;
  /** Byte offset just past the last frame read. */
  #offset = WAL_HEADER;

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
      readFull(fd, header, 0);
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
      const available = Math.floor((size - this.#offset) / frame);
      if (available <= 0) return null;
      const bytes = Buffer.allocUnsafe(available * frame);
      readFull(fd, bytes, this.#offset);
      // The last commit frame of this generation ends what was committed.
      let last = -1;
      let dbPages = 0;
      for (let i = 0; i < available; i++) {
        const at = i * frame;
        if (bytes.readUInt32BE(at + 8) !== salt1 || bytes.readUInt32BE(at + 12) !== salt2) break;
        const commitSize = bytes.readUInt32BE(at + 4);
        if (commitSize !== 0) {
          last = i;
          dbPages = commitSize;
        }
      }
      if (last < 0) return null;
      this.#offset += (last + 1) * frame;
      // Later frames of a page win; pages past the final size were cut. Copies: the read buffer is shared by every page.
      const committed = new Map<number, Buffer>();
      for (let i = 0; i <= last; i++) {
        const at = i * frame;
        const pgno = bytes.readUInt32BE(at);
        if (pgno <= dbPages) committed.set(pgno, Buffer.from(bytes.subarray(at + FRAME_HEADER, at + frame)));
      }
      return { pageSize, dbPages, pages: committed };
    } finally {
      closeSync(fd);
    }
  }
}

function readFull(fd: number, into: Buffer, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error("WAL file shorter than its size");
    done += n;
  }
}
