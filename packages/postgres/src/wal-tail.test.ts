import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { applyRecords, decodeRecord, encodeRecord, mergeRecords, type PageRecord } from "./page-record.ts";
import { WalTail } from "./wal-tail.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A database with a tail on its WAL: exclusive WAL; by default without automatic checkpoints (the test restarts the
 * WAL itself), or with SQLite's own every `autoCheckpoint` pages, as the storage provider runs it.
 */
function openCaptured(autoCheckpoint = 0) {
  const dir = mkdtempSync(join(tmpdir(), "torpor-wal-"));
  dirs.push(dir);
  const path = join(dir, "object.sqlite");
  const db = new Database(path);
  db.pragma("locking_mode = EXCLUSIVE");
  db.pragma("journal_mode = WAL");
  db.pragma(`wal_autocheckpoint = ${autoCheckpoint}`);
  db.pragma(`synchronous = ${autoCheckpoint === 0 ? "NORMAL" : "OFF"}`);
  const tail = new WalTail(path);
  const records: Buffer[] = [];
  const capture = () => {
    const r = tail.read();
    if (r !== null) records.push(encodeRecord(r));
    return r;
  };
  /** Checkpoints the original into its file and returns the file's bytes: what the records must rebuild. */
  const image = () => {
    db.pragma("wal_checkpoint(TRUNCATE)");
    tail.reset();
    return readFileSync(path);
  };
  const rebuild = () => {
    const copy = join(dir, "rebuilt.sqlite");
    writeFileSync(copy, "");
    applyRecords(copy, records.map(decodeRecord));
    return readFileSync(copy);
  };
  return { db, tail, capture, image, rebuild, records };
}

/** A deterministic random sequence (the seed is in the test name). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

it("rebuilds the database byte for byte from the records of its commits (seed 7)", () => {
  const { db, capture, image, rebuild } = openCaptured();
  const random = rng(7);
  db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB); CREATE TABLE log (n INTEGER PRIMARY KEY, body TEXT)");
  capture();
  const put = db.prepare("INSERT OR REPLACE INTO kv VALUES (?, ?)");
  const del = db.prepare("DELETE FROM kv WHERE k = ?");
  const add = db.prepare("INSERT INTO log (body) VALUES (?)");
  for (let i = 0; i < 400; i++) {
    db.transaction(() => {
      const n = 1 + Math.floor(random() * 5);
      for (let j = 0; j < n; j++) {
        const r = random();
        const k = `k${Math.floor(random() * 60)}`;
        if (r < 0.5) put.run(k, Buffer.alloc(Math.floor(random() * 9000), i & 0xff));
        else if (r < 0.7) del.run(k);
        else add.run(`entry ${i}.${j}`);
      }
    })();
    capture();
    // Now and then a checkpoint restarts the WAL, as the storage does between commits.
    if (i % 97 === 96) image();
  }
  db.exec("DELETE FROM kv");
  capture();
  db.exec("VACUUM"); // shrinks the file: the record's size cuts it
  capture();
  const expected = image();
  expect(rebuild().equals(expected)).toBe(true);
  db.close();
});

it("reads only the frames of the WAL's current generation after SQLite's checkpoint restarted it over a longer file", () => {
  // As postgres-storage runs its cache (SQLite's automatic checkpoint, every 1,000 pages by default): after a restart
  // the file keeps its size and the previous generation's frames. Reading to the end of the file cost each commit
  // of a one-object echo ~2 MB (its p50 and p99 with --durability postgres, issue 24).
  const { db, tail, capture, image, rebuild } = openCaptured(1_000);
  db.exec("CREATE TABLE log (n INTEGER PRIMARY KEY, body TEXT)");
  capture();
  const add = db.prepare("INSERT INTO log (body) VALUES (?)");
  const body = "x".repeat(2_000);
  const perCommit: number[] = [];
  for (let i = 0; i < 1_500; i++) {
    add.run(body);
    const before = tail.bytesRead;
    expect(capture()).not.toBeNull();
    perCommit.push(tail.bytesRead - before);
  }
  const walBytes = readFileSync(`${join(db.name)}-wal`).length;
  // The WAL restarted (it would hold ~1,500 commits' pages otherwise) and kept a file of ~1,000 pages.
  expect(walBytes).toBeGreaterThan(1_000 * 4_096);
  expect(walBytes).toBeLessThan(1_400 * 4_120);
  // A commit of one row writes a couple of frames: its read stays within the first few frames, never the file.
  expect(Math.max(...perCommit)).toBeLessThan(64 * 1_024);
  // And the records still rebuild the database across the restarts.
  expect(rebuild().equals(image())).toBe(true);
  db.close();
});

it("keeps the WAL open across commits, and opens the new one after the database was closed and opened again", () => {
  const { db, tail, capture, records } = openCaptured(1_000);
  db.exec("CREATE TABLE log (n INTEGER PRIMARY KEY, body TEXT)");
  capture();
  const add = db.prepare("INSERT INTO log (body) VALUES (?)");
  const perCommit: number[] = [];
  for (let i = 0; i < 200; i++) {
    add.run("x".repeat(2_000));
    const before = tail.bytesRead;
    expect(capture()).not.toBeNull();
    perCommit.push(tail.bytesRead - before);
  }
  // One open for 201 commits; a one-row commit's read is the header and the first four frames at most.
  expect(tail.opens).toBe(1);
  expect(Math.max(...perCommit)).toBeLessThanOrEqual(32 + 4 * (24 + 4_096));
  // SQLite deletes the WAL as it closes the database and makes a new one when it opens it: a tail left unreset
  // still finds the new file's commit (its descriptor's file has no links left), not the deleted file's nothing.
  const path = db.name;
  db.close();
  const again = new Database(path);
  again.pragma("locking_mode = EXCLUSIVE");
  again.pragma("journal_mode = WAL");
  again.prepare("INSERT INTO log (body) VALUES (?)").run("after reopening");
  expect(capture()).not.toBeNull();
  expect(tail.opens).toBe(2);
  const copy = `${path}.rebuilt`;
  writeFileSync(copy, "");
  applyRecords(copy, records.map(decodeRecord));
  const rebuilt = new Database(copy, { readonly: true });
  expect(rebuilt.prepare("SELECT count(*) AS n, max(body) AS last FROM log").get()).toEqual({ n: 201, last: "x".repeat(2_000) });
  expect(rebuilt.prepare("SELECT body FROM log ORDER BY n DESC LIMIT 1").get()).toEqual({ body: "after reopening" });
  rebuilt.close();
  tail.close();
  again.close();
});

it("leaves out a rolled-back transaction's spilled pages and keeps the commit after it", () => {
  const { db, capture, image, rebuild } = openCaptured();
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
  capture();
  db.pragma("cache_size = 10"); // small cache: a large transaction spills pages into the WAL before it commits
  db.exec("BEGIN");
  const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
  for (let i = 0; i < 400; i++) ins.run(Buffer.alloc(3000, 1));
  db.exec("ROLLBACK");
  expect(capture()).toBeNull();
  ins.run(Buffer.alloc(10, 2));
  const small = capture()!;
  expect(small.pages.size).toBeLessThan(5);
  expect(rebuild().equals(image())).toBe(true);
  db.close();
});

it("encodes records compactly and merges consecutive ones (later pages win, the size is the last)", () => {
  const page = (fill: number, used: number) => {
    const p = Buffer.alloc(4096);
    p.fill(fill, 0, used);
    p.fill(fill, 4000);
    return p;
  };
  const a: PageRecord = {
    pageSize: 4096,
    dbPages: 3,
    pages: new Map([
      [1, page(1, 100)],
      [3, page(3, 100)],
    ]),
  };
  const encoded = encodeRecord(a);
  expect(encoded.length).toBeLessThan(2 * (100 + 96 + 12) + 16 + 1);
  const decoded = decodeRecord(encoded);
  expect([...decoded.pages.keys()]).toEqual([1, 3]);
  expect(decoded.pages.get(1)!.equals(a.pages.get(1)!)).toBe(true);
  const b: PageRecord = { pageSize: 4096, dbPages: 2, pages: new Map([[1, page(9, 50)]]) };
  const merged = mergeRecords(a, b);
  expect(merged.dbPages).toBe(2);
  expect([...merged.pages.keys()]).toEqual([1]); // page 3 was cut by the second commit
  expect(merged.pages.get(1)![0]).toBe(9);
  expect(() => decodeRecord(Buffer.from("nonsense that is long enough"))).toThrow(/not a page record/);
  expect(() => decodeRecord(encoded.subarray(0, encoded.length - 1))).toThrow(/not a page record/);
});
