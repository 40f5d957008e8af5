/**
 * The per-object log in PostgreSQL and its fence.
 *
 * An object is claimed by the owner of its slot under a new epoch (one
 * conditional statement that checks the slot's owner and epoch). Every
 * durable commit then appends a record at `head + 1` in the same transaction
 * as `UPDATE objects SET head = $seq WHERE … AND epoch = $mine AND head =
 * $seq - 1`, which must change exactly one row: an owner that lost the object
 * (a newer claim raised the epoch) or that is out of step can make nothing
 * durable. Commits of many objects go in one statement (one transaction).
 *
 * A restore reads the latest snapshot and the records after it in one
 * REPEATABLE READ transaction, a few MiB per query: each query has the
 * cluster's per-query deadline (5 s), which a whole 100 MB snapshot in one
 * result would pass on a loaded machine (the activation then failed). Snapshots are written under the same fence,
 * and the log behind them is deleted in that transaction.
 */
import { createHash } from "node:crypto";
import type { ObjectKey } from "@torpor/core/storage";
import type { ClusterDb, TimedClient } from "./cluster-db.ts";
import { int8, sqlInteger, sqlLiteral } from "./copy-binary.ts";

/** What a claim returns: the object's new epoch and where its log stands. */
export interface Claim {
  readonly epoch: number;
  readonly head: number;
  readonly snapshotSeq: number;
  /** The persisted alarm (ms since the epoch), or null. */
  readonly alarm: number | null;
}

/** One object's commit in a batch. */
export interface Append {
  readonly key: ObjectKey;
  readonly epoch: number;
  /** Must be the object's head + 1. */
  readonly seq: number;
  readonly record: Buffer;
  /** The alarm after this commit (ms since the epoch), or null. */
  readonly alarm: number | null;
}

/** Where an object stands now (for resolving an ambiguous commit). */
export interface Head {
  readonly epoch: number;
  readonly head: number;
}

/** What a restore reads. */
export interface Stored {
  readonly snapshot: Buffer | null;
  readonly snapshotSeq: number;
  /** Records `snapshotSeq + 1 … head`, in order. */
  readonly records: Buffer[];
  readonly head: number;
}

const keyOf = (k: ObjectKey) => `${k.namespace}\u0000${k.id}`;

/** Snapshot bytes per row: well under PostgreSQL's 1 GB value limit, small enough to stream. */
const SNAPSHOT_CHUNK = 1 << 20;
/**
 * Bytes a restore reads per query (snapshot chunks, or log records: at least one whatever its size), as binary COPY
 * (as ordinary rows a bytea came as hex: twice that on the wire). At 4 MB/s (a 10 MB snapshot passed 5 s at load
 * average 30 as hex) a query takes about half a second.
 */
const READ_BYTES = 2 << 20;
/** Snapshot rows a restore reads per query: the whole chunks that fit in READ_BYTES (2 of 1 MiB, well within the per-query deadline), at least one. */
const SNAPSHOT_CHUNKS_PER_READ = Math.max(1, Math.floor(READ_BYTES / SNAPSHOT_CHUNK));

/** The statements of the object log on one cluster database. */
export class ObjectLog {
  readonly #db: ClusterDb;
  readonly #append: string;
  /** The append's prepared-statement name: one per text (per schema), as node-pg requires. */
  readonly #appendName: string;
  /** The append of a batch of one object (see {@link ObjectLog.appendOn}). */
  readonly #appendOne: string;
  readonly #appendOneName: string;

  constructor(db: ClusterDb) {
    this.#db = db;
    const t = db.tables;
    // One statement, so one transaction: only objects whose fence held get their record.
    this.#append = `
      WITH v AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::int[], $7::bigint[])
          AS v(namespace, id, epoch, seq, off, len, alarm)
      ), up AS (
        UPDATE ${t.objects} o SET head = v.seq, alarm_at = v.alarm
          FROM v
         WHERE o.namespace = v.namespace AND o.id = v.id AND o.epoch = v.epoch AND o.head = v.seq - 1
        RETURNING o.namespace, o.id
      ), ins AS (
        INSERT INTO ${t.log} (namespace, id, seq, epoch, record)
        SELECT v.namespace, v.id, v.seq, v.epoch, substring($8::bytea FROM v.off + 1 FOR v.len)
          FROM v JOIN up ON up.namespace = v.namespace AND up.id = v.id
        RETURNING namespace, id
      )
      SELECT namespace, id FROM ins`;
    this.#appendName = statementName("torpor_append_", this.#append);
    // The same fence for one object, its values as plain parameters: no arrays for the client to write as text and
    // the server to parse and unnest, no join, no rows back (the INSERT's row count says whether the fence held).
    this.#appendOne = `
      WITH up AS (
        UPDATE ${t.objects} SET head = $4, alarm_at = $6
         WHERE namespace = $1 AND id = $2 AND epoch = $3 AND head = $4 - 1
        RETURNING namespace, id
      )
      INSERT INTO ${t.log} (namespace, id, seq, epoch, record)
      SELECT namespace, id, $4::bigint, $3::bigint, $5::bytea FROM up`;
    this.#appendOneName = statementName("torpor_append_one_", this.#appendOne);
  }

  /**
   * Claims the object under a new epoch, if `node` owns `slot` at `slotEpoch`.
   * Returns null when it does not (the slot moved): the caller must not host the object.
   */
  async claim(key: ObjectKey, slot: number, slotEpoch: number, node: string): Promise<Claim | null> {
    const t = this.#db.tables;
    const result = await this.#db.query<{ epoch: string; head: string; snapshot_seq: string; alarm_at: string | null }>(
      `WITH s AS (SELECT 1 FROM ${t.slots} WHERE slot = $3 AND owner = $4 AND epoch = $5)
       INSERT INTO ${t.objects} AS o (namespace, id, slot, epoch, head, snapshot_seq, name, owner)
       SELECT $1, $2, $3, 1, 0, 0, $6, $4 FROM s
       ON CONFLICT (namespace, id) DO UPDATE SET epoch = o.epoch + 1, owner = excluded.owner, name = coalesce(o.name, excluded.name)
       RETURNING epoch, head, snapshot_seq, alarm_at`,
      [key.namespace, key.id, slot, node, slotEpoch, key.name ?? null],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      epoch: Number(row.epoch),
      head: Number(row.head),
      snapshotSeq: Number(row.snapshot_seq),
      alarm: row.alarm_at === null ? null : Number(row.alarm_at),
    };
  }

  /** The chunks of snapshot `seq`, READ_BYTES per query (inside the caller's transaction). */
  async #readSnapshot(c: TimedClient, key: ObjectKey, seq: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let from = 0; ; from += SNAPSHOT_CHUNKS_PER_READ) {
      const rows = await c.copyOut(
        `SELECT bytes FROM ${this.#db.tables.snapshots} WHERE namespace = ${sqlLiteral(key.namespace)} AND id = ${sqlLiteral(key.id)} AND seq = ${sqlInteger(seq)} AND chunk >= ${sqlInteger(from)} AND chunk < ${sqlInteger(from + SNAPSHOT_CHUNKS_PER_READ)} ORDER BY chunk`,
      );
      for (const [bytes] of rows) parts.push(bytes!);
      if (rows.length < SNAPSHOT_CHUNKS_PER_READ) return Buffer.concat(parts);
    }
  }

  /**
   * Records `after + 1 … head`, at most READ_BYTES per query, or one record larger than that (a commit's record is never split).
   * The running sum uses each value's stored length (`octet_length` of a bytea reads no TOASTed data).
   */
  async #readLog(c: TimedClient, key: ObjectKey, after: number, head: number): Promise<{ seq: number; record: Buffer }[]> {
    const out: { seq: number; record: Buffer }[] = [];
    for (let last = after; last < head; ) {
      const rows = await c.copyOut(
        `SELECT seq, record FROM (
           SELECT seq, record, sum(octet_length(record)) OVER (ORDER BY seq) - octet_length(record) AS before
             FROM ${this.#db.tables.log} WHERE namespace = ${sqlLiteral(key.namespace)} AND id = ${sqlLiteral(key.id)} AND seq > ${sqlInteger(last)} AND seq <= ${sqlInteger(head)}
         ) r WHERE before = 0 OR before + octet_length(record) <= ${sqlInteger(READ_BYTES)} ORDER BY seq`,
      );
      if (rows.length === 0) break;
      for (const [seq, record] of rows) out.push({ seq: int8(seq), record: record! });
      last = out.at(-1)!.seq;
    }
    return out;
  }

  /** Reads the latest snapshot and the log after it, consistently, up to the head. */
  async load(key: ObjectKey): Promise<Stored> {
    const t = this.#db.tables;
    return this.#db.withClient(async (c) => {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      try {
        const obj = (
          await c.query<{ head: string; snapshot_seq: string }>(`SELECT head, snapshot_seq FROM ${t.objects} WHERE namespace = $1 AND id = $2`, [
            key.namespace,
            key.id,
          ])
        ).rows[0];
        if (obj === undefined) {
          await c.query("COMMIT");
          return { snapshot: null, snapshotSeq: 0, records: [], head: 0 };
        }
        const head = Number(obj.head);
        const snapshotSeq = Number(obj.snapshot_seq);
        let snapshot: Buffer | null = null;
        if (snapshotSeq > 0) snapshot = await this.#readSnapshot(c, key, snapshotSeq);
        const records = await this.#readLog(c, key, snapshotSeq, head);
        await c.query("COMMIT");
        // A gap would rebuild a wrong database: refuse it loudly.
        records.forEach((r, i) => {
          if (r.seq !== snapshotSeq + i + 1) throw new Error(`log of ${key.namespace}/${key.id} has a gap before seq ${r.seq}`);
        });
        if (snapshotSeq + records.length !== head)
          throw new Error(`log of ${key.namespace}/${key.id} ends at ${snapshotSeq + records.length}, head is ${head}`);
        return { snapshot, snapshotSeq, records: records.map((r) => r.record), head };
      } catch (error) {
        await c.query("ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  /**
   * Appends one record per object in one transaction; returns the keys whose
   * fence held (their record is durable once this resolves). Each object may
   * appear once. Rejects on failure: a connection failure leaves it unknown
   * which records were written (see {@link ObjectLog.settle}); any other error
   * means none was.
   */
  async append(batch: readonly Append[], onSent?: () => void): Promise<Set<string>> {
    if (batch.length === 0) return new Set();
    return this.#db.withClient((c) => {
      // From here the statement may reach the server: a failure no longer means "not written".
      onSent?.();
      return this.appendOn(c, batch);
    });
  }

  /** {@link append} on a given connection (the caller knows its backend pid). */
  async appendOn(c: TimedClient, batch: readonly Append[]): Promise<Set<string>> {
    if (batch.length === 1) {
      // A lone committing object (a sequential client's every commit): 0.31 vs 0.42 ms p50 per commit, 173 vs 239 µs
      // of the server's CPU and 129 vs 192 µs of this process's, with the record kept in its row (bench/RESULTS.md,
      // "one committing object, the commit statement and the WAL tail's reads").
      const a = batch[0]!;
      const result = await c.query(this.#appendOne, [a.key.namespace, a.key.id, a.epoch, a.seq, a.record, a.alarm], this.#appendOneName);
      return result.rowCount === 1 ? new Set([keyOf(a.key)]) : new Set();
    }
    const namespaces: string[] = [];
    const ids: string[] = [];
    const epochs: number[] = [];
    const seqs: number[] = [];
    const offsets: number[] = [];
    const lengths: number[] = [];
    const alarms: (number | null)[] = [];
    let offset = 0;
    for (const a of batch) {
      namespaces.push(a.key.namespace);
      ids.push(a.key.id);
      epochs.push(a.epoch);
      seqs.push(a.seq);
      offsets.push(offset);
      lengths.push(a.record.length);
      alarms.push(a.alarm);
      offset += a.record.length;
    }
    const blob = Buffer.concat(
      batch.map((a) => a.record),
      offset,
    );
    // Prepared once per connection: planning this statement cost about 1 ms of the server's CPU per commit (0.74 vs
    // 1.78 ms in all, measured with the backend's CPU time), the larger part of a one-object commit besides the WAL flush.
    const result = await c.query<{ namespace: string; id: string }>(
      this.#append,
      [namespaces, ids, epochs, seqs, offsets, lengths, alarms, blob],
      this.#appendName,
    );
    return new Set(result.rows.map((r) => keyOf(r as ObjectKey)));
  }

  /**
   * Settles commits whose outcome is unknown (their connection failed after
   * the statement was sent): raises each object's epoch if it is still
   * `epoch`, which fences off the lost statement if it has not run yet, and
   * reads the head that results. A head at the commit's seq means it was
   * written; one below means it was not and never will be. Objects not
   * returned were claimed by someone else meanwhile.
   */
  async settle(pending: readonly { key: ObjectKey; epoch: number }[]): Promise<Map<string, Head>> {
    if (pending.length === 0) return new Map();
    const result = await this.#db.query<{ namespace: string; id: string; epoch: string; head: string }>(
      `UPDATE ${this.#db.tables.objects} o SET epoch = o.epoch + 1
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(namespace, id, epoch)
        WHERE o.namespace = v.namespace AND o.id = v.id AND o.epoch = v.epoch
       RETURNING o.namespace, o.id, o.epoch, o.head`,
      [pending.map((p) => p.key.namespace), pending.map((p) => p.key.id), pending.map((p) => p.epoch)],
    );
    return new Map(result.rows.map((r) => [keyOf(r as ObjectKey), { epoch: Number(r.epoch), head: Number(r.head) }]));
  }

  /** Each object's epoch and head (for tests and the admin view). */
  async heads(keys: readonly ObjectKey[]): Promise<Map<string, Head>> {
    const result = await this.#db.query<{ namespace: string; id: string; epoch: string; head: string }>(
      `SELECT o.namespace, o.id, o.epoch, o.head FROM ${this.#db.tables.objects} o
         JOIN unnest($1::text[], $2::text[]) AS v(namespace, id) ON o.namespace = v.namespace AND o.id = v.id`,
      [keys.map((k) => k.namespace), keys.map((k) => k.id)],
    );
    return new Map(result.rows.map((r) => [keyOf(r as ObjectKey), { epoch: Number(r.epoch), head: Number(r.head) }]));
  }

  /**
   * Stores `image` (the database as of commit `seq`) as the object's
   * snapshot, under the fence, and deletes the log and snapshots it
   * replaces. Returns false when the fence failed (nothing written).
   */
  async snapshot(key: ObjectKey, epoch: number, seq: number, image: Buffer): Promise<boolean> {
    const t = this.#db.tables;
    return this.#db.withClient(async (c) => {
      await c.query("BEGIN");
      try {
        const fenced = await c.query(
          `UPDATE ${t.objects} SET snapshot_seq = $4 WHERE namespace = $1 AND id = $2 AND epoch = $3 AND head >= $4 AND snapshot_seq < $4`,
          [key.namespace, key.id, epoch, seq],
        );
        if (fenced.rowCount !== 1) {
          await c.query("ROLLBACK");
          return false;
        }
        for (let chunk = 0, at = 0; at < image.length || chunk === 0; chunk++, at += SNAPSHOT_CHUNK) {
          await c.query(`INSERT INTO ${t.snapshots} (namespace, id, seq, chunk, bytes) VALUES ($1, $2, $3, $4, $5)`, [
            key.namespace,
            key.id,
            seq,
            chunk,
            image.subarray(at, at + SNAPSHOT_CHUNK),
          ]);
        }
        await c.query(`DELETE FROM ${t.snapshots} WHERE namespace = $1 AND id = $2 AND seq < $3`, [key.namespace, key.id, seq]);
        await c.query(`DELETE FROM ${t.log} WHERE namespace = $1 AND id = $2 AND seq <= $3`, [key.namespace, key.id, seq]);
        await c.query("COMMIT");
        return true;
      } catch (error) {
        await c.query("ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  /** Objects of `slots` with a persisted alarm (a new owner arms them without restoring each object). */
  async alarms(slots: readonly number[]): Promise<{ key: ObjectKey; alarm: number }[]> {
    const result = await this.#db.query<{ namespace: string; id: string; name: string | null; alarm_at: string }>(
      `SELECT namespace, id, name, alarm_at FROM ${this.#db.tables.objects} WHERE slot = ANY($1::int[]) AND alarm_at IS NOT NULL`,
      [slots],
    );
    return result.rows.map((r) => ({
      key: r.name === null ? { namespace: r.namespace, id: r.id } : { namespace: r.namespace, id: r.id, name: r.name },
      alarm: Number(r.alarm_at),
    }));
  }
}

/** A prepared-statement name for `text`: one per text (per schema), as node-pg requires. */
function statementName(prefix: string, text: string): string {
  return `${prefix}${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
}

/** The map key the log uses for an object. */
export function objectKeyString(key: ObjectKey): string {
  return keyOf(key);
}
