/**
 * The seam between backups and the commit path: an object's database is
 * copied only at a batch boundary, so a copy never holds half a batch.
 *
 * A write batch is one SQLite transaction on the object's connection, open
 * from its first write until the runtime commits it at the end of the turn
 * (or a `transaction()` closure settles). The copy is `VACUUM INTO`, run on
 * that same connection in one synchronous call: nothing else runs on this
 * thread meanwhile, SQLite refuses it inside a transaction, and it reads the
 * committed state (every acknowledged write, which was committed before it
 * was acknowledged). SQLite's step-wise backup API was not used: between its
 * steps the event loop runs, and a step taken while a batch is open reads
 * that batch's uncommitted pages through the shared pager.
 */
import type { ObjectDatabase } from "./object-database.ts";

/**
 * Copies the database to `dest` (a new file) if no write batch is open on
 * it; returns false, copying nothing, while one is (ask again next turn).
 */
export function snapshotAtBatchBoundary(odb: ObjectDatabase, dest: string): boolean {
  if (odb.db.inTransaction) return false;
  odb.db.prepare("VACUUM INTO ?").run(dest);
  return true;
}
