/**
 * `rowsRead` / `rowsWritten` as workerd counts them. workerd's SQLite is
 * patched (workerd patches/sqlite/0001-row-counts-plain.patch) to count
 * b-tree operations of the statement's VDBE program, trigger programs
 * included:
 *
 * - written: every `OP_Insert` and `OP_IdxInsert` on a cursor that is not
 *   ephemeral (a table row, each index entry, `sqlite_schema` and
 *   `sqlite_sequence` rows), every `OP_Delete` that counts as a change, and
 *   the rows an `OP_Clear` (DELETE without WHERE) removes. Index deletions
 *   are not counted.
 * - read: every seek (`SeekGE/GT/LE/LT`, `SeekRowid`, `NotExists`), every
 *   `Rewind` and `Last`, every `Next`/`Prev` that found a row, and the
 *   entries an `OP_Count` counted.
 *
 * better-sqlite3's SQLite has no such counters, so the program is read with
 * EXPLAIN (once per statement and schema) and the counts are derived from
 * what a run reports (rows changed, rows returned, changes made by triggers).
 * Writes come out exact for INSERT/UPDATE/DELETE with indexes, UNIQUE
 * constraints, AUTOINCREMENT and triggers, and for CREATE TABLE/INDEX/TRIGGER;
 * reads are exact for seeks by key and whole-table scans, and estimated for
 * filtered scans (docs/compatibility.md).
 */
import type Database from "better-sqlite3";

interface Op {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
  p3: number;
  p4: unknown;
}

/** What one statement's program does per run, per row it changes and per row its triggers change. */
export interface ProgramShape {
  /** Counted writes for each row the statement changes. */
  perRow: number;
  /** Counted writes run once when rows changed (AUTOINCREMENT's sqlite_sequence row). */
  perRun: number;
  /** Counted writes for each row a trigger changes (the programs' average when several). */
  perTriggerRow: number;
  /** DDL: straight-line programs whose ops run once; DML: sqlite_sequence lookups. */
  readsOnce: number;
  writesOnce: number;
  /** Reads of the main program's seeks on the statement's own table (per run). */
  seeks: number;
  /** An index range (SeekGE…): one read for the seek, one per row found. */
  indexSeek: boolean;
  /** The table a scan from its first row reads whole (UPDATE/DELETE without a usable key), or null. */
  scans: string | null;
  /** DELETE without WHERE: OP_Clear, no reads. */
  clears: boolean;
  /** The program opens no b-tree (SELECT 1). */
  touchesNothing: boolean;
  /** CREATE INDEX on an existing table: one entry written and two reads per row. */
  indexBuild: string | null;
  /** The table has triggers (their changes need total_changes()). */
  hasTriggers: boolean;
  /** `SELECT count(*) FROM t`: OP_Count reads every entry, and the one value returned is how many. */
  countOnly: boolean;
}

const OPENERS = new Set(["OpenRead", "OpenWrite", "OpenEphemeral", "OpenAutoindex", "OpenDup", "SorterOpen", "OpenPseudo", "ReopenIdx"]);
const EPHEMERAL = new Set(["OpenEphemeral", "OpenAutoindex", "SorterOpen", "OpenPseudo"]);
const SEEKS = new Set(["SeekGE", "SeekGT", "SeekLE", "SeekLT", "SeekRowid", "NotExists"]);
const INDEX_SEEKS = new Set(["SeekGE", "SeekGT", "SeekLE", "SeekLT"]);

/** Splits EXPLAIN output into the main program and trigger sub-programs (each starts again at address 0). */
function programs(ops: Op[]): Op[][] {
  const out: Op[][] = [];
  for (const op of ops) {
    if (op.addr === 0 || out.length === 0) out.push([]);
    out.at(-1)!.push(op);
  }
  return out;
}

interface Counted {
  writes: number;
  sequenceWrites: number;
  sequenceReads: number;
  reads: number;
  seeks: number;
  indexSeek: boolean;
  scanRoots: number[];
  clears: boolean;
  opensBtree: boolean;
  counts: boolean;
}

function count(program: Op[], sequenceRoot: number | null): Counted {
  const opener = new Map<number, Op>();
  const c: Counted = {
    writes: 0,
    sequenceWrites: 0,
    sequenceReads: 0,
    reads: 0,
    seeks: 0,
    indexSeek: false,
    scanRoots: [],
    clears: false,
    opensBtree: false,
    counts: false,
  };
  for (const op of program) {
    if (OPENERS.has(op.opcode)) {
      opener.set(op.p1, op);
      if (op.opcode === "OpenRead" || op.opcode === "OpenWrite") c.opensBtree = true;
      continue;
    }
    const open = opener.get(op.p1);
    const durable = open !== undefined && !EPHEMERAL.has(open.opcode);
    switch (op.opcode) {
      case "Insert":
      case "IdxInsert":
        if (!durable) break;
        if (open!.p2 === sequenceRoot && op.opcode === "Insert") c.sequenceWrites++;
        else c.writes++;
        break;
      case "Delete":
        // OPFLAG_NCHANGE in P2: the deletion is a change (not the delete half of an UPDATE or REPLACE).
        if (durable && (op.p2 & 1) === 1) c.writes++;
        break;
      case "Clear":
        if (op.p3 !== 0) c.clears = true;
        break;
      case "Rewind":
      case "Last":
        if (!durable) break;
        c.reads++;
        // AUTOINCREMENT reads its sqlite_sequence row once per run (found first when it is the only one).
        if (open!.p2 === sequenceRoot) c.sequenceReads++;
        else c.scanRoots.push(open!.p2);
        break;
      case "Count":
        c.opensBtree = true;
        c.counts = true;
        break;
      default:
        if (SEEKS.has(op.opcode) && durable) {
          c.reads++;
          c.seeks++;
          if (INDEX_SEEKS.has(op.opcode)) c.indexSeek = true;
        }
    }
  }
  return c;
}

/** Reads EXPLAIN of `sql` (bound with `args`, as EXPLAIN needs) into a shape. */
export function shapeOf(db: Database.Database, sql: string, args: unknown[], keyword: string, target: string | null): ProgramShape {
  const ops = db.prepare(`EXPLAIN ${sql}`).all(...args) as Op[];
  const roots = new Map<number, { name: string; type: string; tbl: string }>();
  let sequenceRoot: number | null = null;
  for (const row of db.prepare("SELECT name, type, tbl_name AS tbl, rootpage FROM sqlite_schema").all() as {
    name: string;
    type: string;
    tbl: string;
    rootpage: number;
  }[]) {
    roots.set(row.rootpage, row);
    if (row.name === "sqlite_sequence") sequenceRoot = row.rootpage;
  }
  const [main = [], ...triggers] = programs(ops);
  const m = count(main, sequenceRoot);
  const t = triggers.map((p) => count(p, sequenceRoot));
  const ddl = keyword === "CREATE" || keyword === "DROP" || keyword === "ALTER";
  const scanned = m.scanRoots.map((root) => roots.get(root)).find((r) => r !== undefined && r.type === "table" && r.name !== "sqlite_sequence");
  const indexBuild = ddl && target !== null && /^CREATE\s+(UNIQUE\s+)?INDEX/i.test(sql) ? target : null;
  return {
    perRow: ddl ? 0 : m.writes,
    perRun: ddl ? 0 : m.sequenceWrites,
    perTriggerRow: t.length === 0 ? 0 : t.reduce((sum, p) => sum + p.writes + p.sequenceWrites, 0) / t.length,
    // An index build's per-row write (the sorter's IdxInsert) is counted by row below.
    writesOnce: ddl ? m.writes + m.sequenceWrites - (indexBuild !== null ? 1 : 0) : 0,
    readsOnce: ddl ? m.reads : m.sequenceReads,
    seeks: m.seeks,
    indexSeek: m.indexSeek,
    scans: scanned?.name ?? null,
    clears: m.clears,
    touchesNothing: !m.opensBtree,
    indexBuild,
    hasTriggers: t.length > 0,
    countOnly: m.counts && m.reads === 0,
  };
}

/** A statement's shape for the current schema, and what it needs measured around a run. */
const shapes = new WeakMap<Database.Statement, { epoch: number; shape: ProgramShape }>();

function cachedShape(cdb: CounterDatabase, stmt: Database.Statement, sql: string, args: unknown[], keyword: string, target: string | null): ProgramShape {
  let cached = shapes.get(stmt);
  if (cached === undefined || cached.epoch !== cdb.schemaEpoch) {
    cached = { epoch: cdb.schemaEpoch, shape: shapeOf(cdb.db, sql, args, keyword, target) };
    shapes.set(stmt, cached);
  }
  return cached.shape;
}

/** What `measureWrite` needs from the object's database. */
export interface CounterDatabase {
  readonly db: Database.Database;
  /** Bumped after every DDL statement, so shapes are read again. */
  schemaEpoch: number;
}

function rowCount(db: Database.Database, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM "${table.replace(/"/g, '""')}"`).get() as { n: number }).n;
}

const totalChanges = new WeakMap<Database.Database, Database.Statement>();
function total(db: Database.Database): number {
  let st = totalChanges.get(db);
  if (st === undefined) totalChanges.set(db, (st = db.prepare("SELECT total_changes()").pluck()));
  return st.get() as number;
}

/**
 * Runs a writing statement (`run` executes it and returns the rows changed)
 * and returns [rowsRead, rowsWritten] as workerd would count them.
 */
export function measureWrite(
  cdb: CounterDatabase,
  stmt: Database.Statement,
  sql: string,
  args: unknown[],
  keyword: string,
  target: string | null,
  run: () => number,
): [number, number] {
  const shape = cachedShape(cdb, stmt, sql, args, keyword, target);
  const db = cdb.db;
  const scanned = shape.scans !== null ? rowCount(db, shape.scans) : 0;
  const built = shape.indexBuild !== null ? rowCount(db, shape.indexBuild) : 0;
  const before = shape.hasTriggers ? total(db) : 0;
  const changes = run();
  const byTriggers = shape.hasTriggers ? total(db) - before - changes : 0;
  if (keyword === "CREATE" || keyword === "DROP" || keyword === "ALTER") {
    cdb.schemaEpoch++;
    // An index build reads one more (fitted on workerd: 2 for an empty table, 6 for two rows).
    return [shape.readsOnce + (shape.indexBuild !== null ? 1 + 2 * built : 0), shape.writesOnce + built];
  }
  const written = (shape.clears ? changes : changes * shape.perRow) + (changes > 0 ? shape.perRun : 0) + Math.round(byTriggers * shape.perTriggerRow);
  let read = shape.readsOnce;
  if (shape.clears) read += 0;
  else if (shape.scans !== null) read += Math.max(scanned, 1);
  else if (shape.indexSeek) read += shape.seeks + changes;
  else read += shape.seeks;
  return [read, written];
}

/** The table a CREATE INDEX builds from (the word after ON), for its per-row counts. */
export function indexedTable(keyword: string, words: readonly string[]): string | null {
  if (keyword !== "CREATE") return null;
  const on = words.findIndex((w) => w.toUpperCase() === "ON");
  return on === -1 ? null : (words[on + 1] ?? null);
}

/**
 * rowsRead of a read-only statement: none without a b-tree (SELECT 1); the
 * count for `SELECT count(*) FROM t`; the seek plus each row found for an
 * index lookup; otherwise the rows returned, and at least the one seek or
 * rewind a table access costs (exact for whole-table scans and key lookups;
 * a scan filtered by WHERE reads rows it does not return).
 */
export function measureRead(cdb: CounterDatabase, stmt: Database.Statement, sql: string, args: unknown[], rows: unknown[][]): number {
  const shape = cachedShape(cdb, stmt, sql, args, "SELECT", null);
  if (shape.touchesNothing) return 0;
  if (shape.countOnly && rows.length === 1 && typeof rows[0]![0] === "number") return rows[0]![0] as number;
  if (shape.indexSeek) return shape.seeks + rows.length;
  return Math.max(rows.length, 1);
}
