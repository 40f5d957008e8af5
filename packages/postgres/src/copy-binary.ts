/**
 * Reads the rows of a SELECT as raw bytes: `COPY (SELECT …) TO STDOUT (FORMAT
 * binary)`. A restore reads megabytes of bytea per query; as ordinary rows a
 * bytea comes as hex text, twice its bytes on the wire, encoded by the server
 * and decoded here. COPY's binary format carries each value's bytes as stored.
 *
 * Why not node-pg's `binary: true` result rows: pg 8.23 decodes every binary
 * field as UTF-8 text and back into bytes, which corrupts any value that is not
 * valid UTF-8 (brianc/node-postgres#3495, open). CopyData messages reach us as
 * bytes. The statement runs through node-pg's documented "submittable" hook (as
 * pg-cursor does), on the caller's connection, so it sees its transaction.
 *
 * COPY takes no parameters: callers build the SELECT with {@link sqlLiteral}
 * and integer literals only. Binary COPY format:
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
import pg from "pg";

/** "PGCOPY\n\377\r\n\0": the 11-byte signature of the binary COPY format. */
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);

/** One row: each column's bytes (bigint: 8 bytes big-endian), or null. */
export type CopyRow = (Buffer | null)[];

/** The connection surface a submittable gets from node-pg. */
interface CopyConnection {
  query(text: string): void;
  sendCopyFail(message: string): void;
}

/** Runs `COPY (select) TO STDOUT (FORMAT binary)` on `client` and returns its rows. */
export function copyOutBinary(client: pg.ClientBase, select: string): Promise<CopyRow[]> {
  return new Promise<CopyRow[]>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let failed = false;
    const submittable = {
      submit(connection: CopyConnection) {
        connection.query(`COPY (${select}) TO STDOUT (FORMAT binary)`);
      },
      handleCopyData(msg: { chunk: Buffer }) {
        // A view of the connection's read buffer, which is reused: copied now.
        chunks.push(Buffer.from(msg.chunk));
      },
      handleReadyForQuery() {
        if (failed) return;
        try {
          resolve(parseCopyBinary(Buffer.concat(chunks)));
        } catch (error) {
          reject(error);
        }
      },
      // The server refused the statement, or the connection failed: node-pg calls this instead of the above.
      handleError(error: Error) {
        failed = true;
        reject(error);
      },
      handleCopyInResponse(connection: CopyConnection) {
        connection.sendCopyFail("Torpor expected COPY TO, not COPY FROM");
      },
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handleRowDescription() {},
      handleDataRow() {},
      handlePortalSuspended() {},
    };
    client.query(submittable as unknown as pg.QueryConfig);
  });
}

/** Parses a whole binary COPY stream (header, tuples, trailer). Throws on anything malformed. */
export function parseCopyBinary(data: Buffer): CopyRow[] {
  if (data.length < SIGNATURE.length + 8 || !data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error("not a binary COPY stream (bad signature)");
  let at = SIGNATURE.length + 4; // the flags field: no bit Torpor needs
  at += 4 + data.readUInt32BE(at); // the header extension, skipped
  const rows: CopyRow[] = [];
  for (;;) {
    if (at + 2 > data.length) throw new Error("binary COPY stream ends without its trailer");
    const fields = data.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    const row: CopyRow = [];
    for (let i = 0; i < fields; i++) {
      if (at + 4 > data.length) throw new Error("binary COPY stream truncated in a row");
      const length = data.readInt32BE(at);
      at += 4;
      if (length === -1) row.push(null);
      else {
        if (at + length > data.length) throw new Error("binary COPY stream truncated in a value");
        row.push(data.subarray(at, at + length));
        at += length;
      }
    }
    rows.push(row);
  }
  if (at !== data.length) throw new Error("binary COPY stream has bytes after its trailer");
  return rows;
}

/** A string as an SQL literal (COPY takes no parameters). */
export function sqlLiteral(value: string): string {
  return pg.escapeLiteral(value);
}

/** An integer as an SQL literal; anything else is refused (it would be pasted into a statement). */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/** A bigint column's 8 bytes as a number. */
export function int8(value: Buffer | null | undefined): number {
  if (value === null || value === undefined || value.length !== 8) throw new Error("expected a bigint value (8 bytes)");
  return Number(value.readBigInt64BE(0));
}
