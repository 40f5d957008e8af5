/**
 * The cluster's tables in PostgreSQL, in one schema of their own (default
 * `torpor`), created on first use by whichever node gets there first (under
 * an advisory lock, so nodes starting together do not race their DDL).
 *
 * - `nodes`: one row per running node process, its lease judged on
 *   PostgreSQL's clock (`expires_at` against `now()`).
 * - `slots`: the id space cut into slots, each with an owner node and an
 *   epoch raised by every change of owner.
 * - `objects`: one row per object that ever committed: the epoch of its
 *   current owner (raised by every claim) and the head of its log.
 * - `log`: each durable commit's record (changed SQLite pages), by sequence.
 * - `snapshots`: whole database images, in chunks, the log before them truncated.
 */
import { SLOT_COUNT } from "@torpor/core/cluster";
import type pg from "pg";

/** Bump with any incompatible change; nodes refuse a schema of another version. */
export const SCHEMA_VERSION = 1;

/** Qualified table names of one schema. */
export interface Tables {
  readonly schema: string;
  readonly meta: string;
  readonly nodes: string;
  readonly slots: string;
  readonly objects: string;
  readonly log: string;
  readonly snapshots: string;
}

/** The tables of schema `schema` (a plain identifier). */
export function tablesOf(schema: string): Tables {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema name ${JSON.stringify(schema)} must be a lowercase SQL identifier`);
  const q = (t: string) => `"${schema}"."${t}"`;
  return { schema, meta: q("meta"), nodes: q("nodes"), slots: q("slots"), objects: q("objects"), log: q("log"), snapshots: q("snapshots") };
}

/** Creates the schema if missing and returns the version found (so the caller can refuse another one). */
export async function ensureSchema(client: pg.ClientBase, t: Tables): Promise<number> {
  await client.query("BEGIN");
  try {
    // One creator at a time; the lock key is derived from the schema name.
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`torpor-schema:${t.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${t.schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.meta} (key text PRIMARY KEY, value text NOT NULL)`);
    const found = await client.query<{ value: string }>(`SELECT value FROM ${t.meta} WHERE key = 'version'`);
    if (found.rows[0] !== undefined) {
      await client.query("COMMIT");
      return Number(found.rows[0].value);
    }
    await client.query(`
      CREATE TABLE ${t.nodes} (
        node_id text PRIMARY KEY,
        address text NOT NULL,
        expires_at timestamptz NOT NULL,
        joined_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ${t.slots} (
        slot integer PRIMARY KEY,
        owner text,
        epoch bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE ${t.objects} (
        namespace text NOT NULL,
        id text NOT NULL,
        slot integer NOT NULL,
        epoch bigint NOT NULL,
        head bigint NOT NULL DEFAULT 0,
        snapshot_seq bigint NOT NULL DEFAULT 0,
        alarm_at bigint,
        name text,
        owner text,
        PRIMARY KEY (namespace, id)
      );
      CREATE INDEX ON ${t.objects} (slot) WHERE alarm_at IS NOT NULL;
      CREATE TABLE ${t.log} (
        namespace text NOT NULL,
        id text NOT NULL,
        seq bigint NOT NULL,
        epoch bigint NOT NULL,
        record bytea NOT NULL,
        PRIMARY KEY (namespace, id, seq)
      ) WITH (toast_tuple_target = 8160);
      CREATE TABLE ${t.snapshots} (
        namespace text NOT NULL,
        id text NOT NULL,
        seq bigint NOT NULL,
        chunk integer NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (namespace, id, seq, chunk)
      );
    `);
    // Page records are mostly incompressible or already small; TOAST compression would cost the database's CPU on every commit.
    // And a record stays in the row up to a whole page (toast_tuple_target, default ~2 KB): a commit of one or two
    // pages (a few KB) is then one heap tuple, not one plus two TOAST chunks and their index entries (~30 µs of the
    // server's CPU and ~300 B of WAL per commit of 2 KB).
    await client.query(`ALTER TABLE ${t.log} ALTER COLUMN record SET STORAGE EXTERNAL`);
    await client.query(`INSERT INTO ${t.slots} (slot) SELECT generate_series(0, $1 - 1)`, [SLOT_COUNT]);
    await client.query(`INSERT INTO ${t.meta} (key, value) VALUES ('version', $1), ('slots', $2)`, [String(SCHEMA_VERSION), String(SLOT_COUNT)]);
    await client.query("COMMIT");
    return SCHEMA_VERSION;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
