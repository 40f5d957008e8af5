/**
 * What one durable commit ships: the SQLite pages the commit changed, whole,
 * and the database's size in pages after it. Applied in order on top of a
 * snapshot (the database file as of some commit), records rebuild the file
 * exactly, byte for byte: this is what a checkpoint does with WAL frames.
 *
 * Encoding (big-endian, as SQLite's own formats):
 *   "TPR1" | page size u32 | pages after commit u32 | count u32 |
 *   count × (page number u32 | zero run start u32 | zero run length u32 | the page without that run)
 * A b-tree page keeps its free space in the middle, zeroed on a fresh page, so
 * cutting the longest run of zeros ships a page holding one small row in a few
 * hundred bytes instead of its full size (deflate would do a little better at
 * ten times the CPU).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";

const MAGIC = 0x54505231; // "TPR1"
const HEADER = 16;
const PAGE_HEADER = 12;
/** Runs shorter than this are not worth a cut. */
const MIN_RUN = 32;

/** The changed pages of one commit (or of several consecutive commits merged). */
export interface PageRecord {
  readonly pageSize: number;
  /** Size of the database in pages after the commit. */
  readonly dbPages: number;
  /** Page number (1-based) → the page's bytes after the commit. */
  readonly pages: ReadonlyMap<number, Buffer>;
}

/** Serializes a record. */
export function encodeRecord(record: PageRecord): Buffer {
  const { pageSize } = record;
  const sorted = [...record.pages].sort((a, b) => a[0] - b[0]);
  const runs = sorted.map(([, page]) => zeroRun(page, pageSize));
  let size = HEADER;
  for (const [, length] of runs) size += PAGE_HEADER + pageSize - length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(pageSize, 4);
  out.writeUInt32BE(record.dbPages, 8);
  out.writeUInt32BE(sorted.length, 12);
  let at = HEADER;
  for (let i = 0; i < sorted.length; i++) {
    const [pgno, page] = sorted[i]!;
    const [start, length] = runs[i]!;
    out.writeUInt32BE(pgno, at);
    out.writeUInt32BE(start, at + 4);
    out.writeUInt32BE(length, at + 8);
    at += PAGE_HEADER;
    at += page.copy(out, at, 0, start);
    at += page.copy(out, at, start + length, pageSize);
  }
  return out;
}

/** Parses a record; throws on anything that is not one (a corrupt log must stop a restore, not produce a wrong database). */
export function decodeRecord(bytes: Buffer): PageRecord {
  if (bytes.length < HEADER || bytes.readUInt32BE(0) !== MAGIC) throw new Error("not a page record (bad magic)");
  const pageSize = bytes.readUInt32BE(4);
  const dbPages = bytes.readUInt32BE(8);
  const count = bytes.readUInt32BE(12);
  if (!isPageSize(pageSize)) throw new Error("not a page record (bad page size)");
  const pages = new Map<number, Buffer>();
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + PAGE_HEADER > bytes.length) throw new Error("not a page record (truncated)");
    const pgno = bytes.readUInt32BE(at);
    const start = bytes.readUInt32BE(at + 4);
    const length = bytes.readUInt32BE(at + 8);
    const stored = pageSize - length;
    if (start + length > pageSize || at + PAGE_HEADER + stored > bytes.length) throw new Error("not a page record (bad page entry)");
    at += PAGE_HEADER;
    const page = Buffer.alloc(pageSize);
    bytes.copy(page, 0, at, at + start);
    bytes.copy(page, start + length, at + start, at + stored);
    pages.set(pgno, page);
    at += stored;
  }
  if (at !== bytes.length) throw new Error("not a page record (trailing bytes)");
  return { pageSize, dbPages, pages };
}

/** Merges consecutive records of one object into one (later pages win; the last size counts). */
export function mergeRecords(first: PageRecord, second: PageRecord): PageRecord {
  if (first.pageSize !== second.pageSize) throw new Error("page size changed between commits");
  const pages = new Map(first.pages);
  for (const [pgno, page] of second.pages) pages.set(pgno, page);
  // Pages past the new end were cut by the second commit: keeping them would grow the file back.
  for (const pgno of pages.keys()) if (pgno > second.dbPages) pages.delete(pgno);
  return { pageSize: second.pageSize, dbPages: second.dbPages, pages };
}

/** Writes a record's pages into the database file at `path` and cuts it to the record's size. */
export function applyRecords(path: string, records: Iterable<PageRecord>): void {
  const fd = openSync(path, "r+");
  try {
    for (const record of records) {
      for (const [pgno, page] of record.pages) {
        if (pgno <= record.dbPages) writeSync(fd, page, 0, record.pageSize, (pgno - 1) * record.pageSize);
      }
      const size = record.dbPages * record.pageSize;
      if (fstatSync(fd).size !== size) ftruncateSync(fd, size);
    }
  } finally {
    closeSync(fd);
  }
}

/** SQLite's valid page sizes: powers of two from 512 to 65536. */
export function isPageSize(n: number): boolean {
  return n >= 512 && n <= 65_536 && (n & (n - 1)) === 0;
}

const ZEROS = Buffer.alloc(MIN_RUN);

/** The longest run of zero bytes in a page as [start, length] ([0, 0] when none is long enough). */
function zeroRun(page: Buffer, pageSize: number): [number, number] {
  let best = 0;
  let bestStart = 0;
  let from = 0;
  for (;;) {
    // indexOf finds candidate runs in native code; only their ends are walked here.
    const start = page.indexOf(ZEROS, from);
    if (start < 0 || start >= pageSize) break;
    let end = start + MIN_RUN;
    while (end < pageSize && page[end] === 0) end++;
    if (end - start > best) {
      best = end - start;
      bestStart = start;
    }
    from = end + 1;
  }
  return best > 0 ? [bestStart, best] : [0, 0];
}
