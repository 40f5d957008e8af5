/**
 * The connection to the cluster's PostgreSQL: a pool for commits and claims,
 * checked once at start-up (version, writable primary, no transaction-mode
 * pooler in between, `synchronous_commit` not off) and the schema ensured.
 *
 * Every query has a client-side deadline: a blackholed route makes TCP wait
 * for minutes, and a commit or a lease renewal must fail well before that.
 * A connection whose query timed out is destroyed, never reused (its
 * statement may still be running in the server).
 */
import { TorporError } from "@torpor/core";
import pg from "pg";
import { copyOutBinary, type CopyRow } from "./copy-binary.ts";
import { ensureSchema, SCHEMA_VERSION, tablesOf, type Tables } from "./schema.ts";

/** Options of {@link openClusterDb}. */
export interface ClusterDbOptions {
  /** `postgres://user:pass@host:port/db` (a `?host=/dir` names a Unix socket directory). */
  url: string;
  /** Schema holding the cluster's tables. Default `torpor`. */
  schema?: string;
  /** Connections in the pool. Default 8; at least 2 (the start-up pooler check holds two), 1 with `skipPoolerCheck`. */
  poolSize?: number;
  /** Deadline of one query, client side, in ms. Default 5,000. */
  queryTimeoutMs?: number;
  /** Deadline of opening a connection, in ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** Skip the transaction-mode pooler check (tests of the check itself use it on purpose). */
  skipPoolerCheck?: boolean;
}

/** An open cluster database. */
export interface ClusterDb {
  readonly tables: Tables;
  readonly pool: pg.Pool;
  readonly queryTimeoutMs: number;
  /** Runs one statement on a pooled connection with the query deadline. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs `fn` on one connection; a connection that failed (timeout, network) is destroyed afterwards. */
  withClient<T>(fn: (client: TimedClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A pooled connection whose queries carry the deadline. */
export interface TimedClient {
  /** The server process serving this connection (`pg_backend_pid()`). */
  readonly backendPid: number;
  /**
   * Runs one statement. With `name`, it is a prepared statement of this connection: parsed and planned once per
   * connection, then only bound and executed (the same one round trip). A name must always go with the same text.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>>;
  /** The rows of `select` as raw bytes, through binary COPY (see {@link copyOutBinary}); same deadline. */
  copyOut(select: string): Promise<CopyRow[]>;
}

/** A failure that leaves unknown whether the statement ran (network, timeout, server gone): its connection is unusable. */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // SQLSTATE class 08 (connection exception), 57P01-03 (admin shutdown, crash shutdown, cannot connect now).
  if (typeof code === "string" && /^(08|57P0[1-3])/.test(code)) return true;
  // No SQLSTATE: the failure came from the socket or our deadline, not from the server.
  return typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code);
}

/**
 * Connects, checks the server and ensures the schema.
 * @example
 * const db = await openClusterDb({ url: "postgres://torpor@db.internal/torpor" });
 */
export async function openClusterDb(options: ClusterDbOptions): Promise<ClusterDb> {
  const queryTimeoutMs = options.queryTimeoutMs ?? 5_000;
  const poolSize = options.poolSize ?? 8;
  // The pooler check holds two connections at once: with one, its second checkout would wait forever.
  const minPool = options.skipPoolerCheck === true ? 1 : 2;
  if (!Number.isInteger(poolSize) || poolSize < minPool) {
    throw new TorporError(
      "ERR_CLUSTER_DATABASE",
      `poolSize must be a whole number of at least ${minPool}${minPool === 2 ? " (the start-up pooler check holds two connections)" : ""}; got ${String(poolSize)}.`,
    );
  }
  const tables = tablesOf(options.schema ?? "torpor");
  const pool = new pg.Pool({
    connectionString: options.url,
    max: poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 60_000,
    keepAlive: true,
    application_name: "torpor",
  });
  // An idle pooled connection that breaks (server restart) emits here; the pool drops it.
  pool.on("error", () => {});
  // pg-pool removes its own 'error' listener from a client the moment it hands it out, and the caller of
  // `pool.connect()` can attach one only a promise hop later: a socket error or close emitted in between (or while a
  // caller holds a client without a listener) would be an uncaught 'error' that ends the process. So every client gets
  // one listener of ours for its whole life, from the moment it joins the pool ('connect' is emitted synchronously,
  // before the handover); it records the failure so the client is destroyed when released.
  const failures = new WeakMap<pg.PoolClient, Error>();
  pool.on("connect", (client) => {
    client.on("error", (error: Error) => {
      if (!failures.has(client)) failures.set(client, error);
    });
  });
  const db: ClusterDb = {
    tables,
    pool,
    queryTimeoutMs,
    query: (text, values) => db.withClient((c) => c.query(text, values)),
    async withClient(fn) {
      const client = await pool.connect();
      // A socket error while checked out reaches the running query; the event itself is recorded by the listener above.
      let broken: unknown = failures.get(client);
      /** Runs `start` with the query deadline; a connection failure marks the client broken. */
      const guarded = async <T>(start: () => Promise<T>, label: string): Promise<T> => {
        try {
          return await withDeadline(start(), queryTimeoutMs, label);
        } catch (error) {
          if (isConnectionFailure(error)) broken = error;
          throw error;
        }
      };
      const timed: TimedClient = {
        backendPid: (client as unknown as { processID: number }).processID,
        query: (text, values, name) => guarded(() => (name === undefined ? client.query(text, values) : client.query({ name, text, values })), text),
        copyOut: (select) => guarded(() => copyOutBinary(client, select), `COPY (${select})`),
      };
      try {
        return await fn(timed);
      } finally {
        broken ??= failures.get(client);
        // A connection with a statement possibly still running is never handed out again.
        client.release(broken === undefined ? undefined : broken instanceof Error ? broken : true);
      }
    },
    async close() {
      await pool.end();
    },
  };
  try {
    await db.withClient(async (c) => {
      await checkServer(c);
      const version = await ensureSchema(c as unknown as pg.ClientBase, tables);
      if (version !== SCHEMA_VERSION) {
        throw new TorporError(
          "ERR_CLUSTER_DATABASE",
          `The cluster schema "${tables.schema}" is at version ${version}; this Torpor uses version ${SCHEMA_VERSION}. Run nodes of one Torpor version per schema.`,
        );
      }
    });
    if (options.skipPoolerCheck !== true) await checkNoTransactionPooler(pool, queryTimeoutMs, failures);
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof TorporError) throw error;
    throw new TorporError("ERR_CLUSTER_DATABASE", `Cannot use the cluster database at ${redact(options.url)}: ${message(error)}`, { cause: error });
  }
  return db;
}

async function checkServer(c: TimedClient): Promise<void> {
  const row = (
    await c.query<{ version: string; readonly: string; sync: string }>(
      "SELECT current_setting('server_version_num') AS version, current_setting('transaction_read_only') AS readonly, current_setting('synchronous_commit') AS sync",
    )
  ).rows[0]!;
  if (Number(row.version) < 140000) {
    throw new TorporError("ERR_CLUSTER_DATABASE", `PostgreSQL ${row.version} is too old: Torpor's cluster needs PostgreSQL 14 or later.`);
  }
  if (row.readonly === "on") {
    throw new TorporError("ERR_CLUSTER_DATABASE", "The cluster database is read-only (a standby?): point --cluster at the primary.");
  }
  if (row.sync === "off") {
    // With it off, a COMMIT returns before its WAL is flushed: an acknowledged write could be lost in a database crash.
    throw new TorporError(
      "ERR_CLUSTER_DATABASE",
      "synchronous_commit is off for this database or role: a committed write could be lost if PostgreSQL crashes. Set it to on (ALTER ROLE … SET synchronous_commit = on).",
    );
  }
}

/**
 * A pooler in transaction mode (PgBouncer, Supavisor, RDS Proxy…) hands each
 * transaction to whichever server connection is free: two statements of one
 * client can run in different server sessions, and two clients can share one
 * session. Nothing of Torpor's fencing depends on session state, but a
 * pooler that queues statements can deliver one long after its client gave
 * up, and its error surface hides which statement reached the server; so
 * Torpor refuses it rather than reason about it.
 *
 * Test: connection A asks its server pid, B opens a transaction and asks its
 * own, A asks again. A real session keeps its pid and never shares B's; a
 * transaction pooler gives A's released server connection to B (PgBouncer
 * reuses the most recent one), so A's pid changes or equals B's.
 */
async function checkNoTransactionPooler(pool: pg.Pool, timeoutMs: number, failures: WeakMap<pg.PoolClient, Error>): Promise<void> {
  const a = await pool.connect();
  let b: pg.PoolClient;
  try {
    b = await pool.connect();
  } catch (error) {
    a.release(failures.get(a) ?? true);
    throw error;
  }
  let failed: unknown;
  try {
    const pid = async (c: pg.PoolClient) =>
      Number((await withDeadline(c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid"), timeoutMs, "pid")).rows[0]!.pid);
    for (let round = 0; round < 3; round++) {
      const first = await pid(a);
      await withDeadline(b.query("BEGIN"), timeoutMs, "BEGIN");
      const other = await pid(b);
      const second = await pid(a);
      await withDeadline(b.query("COMMIT"), timeoutMs, "COMMIT");
      if (first !== second || second === other) {
        throw new TorporError(
          "ERR_CLUSTER_POOLER",
          "The cluster database URL goes through a connection pooler in transaction mode (one connection's statements ran in different server sessions). Connect Torpor to PostgreSQL directly or through a session-mode pooler.",
        );
      }
    }
  } catch (error) {
    failed = error;
    throw error;
  } finally {
    // After a failure (a timeout may leave a statement running) neither connection is reused.
    a.release(failures.get(a) ?? (failed === undefined ? undefined : true));
    b.release(failures.get(b) ?? (failed === undefined ? undefined : true));
  }
}

/** Rejects after `ms`; the caller destroys the connection (the statement may still run). */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${ms} ms (${what.trim().slice(0, 60)})`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
