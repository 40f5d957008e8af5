/**
 * What a node checks before it joins: a schema of its version, a writable
 * primary, synchronous_commit not off, and no transaction-mode pooler in
 * between (PgBouncer, for real).
 */
import { describe, expect } from "vitest";
import { openClusterDb } from "../src/index.ts";
import { pgBouncerMissing, psql, startPgBouncer } from "./pgbouncer.ts";
import { freshSchema, openFresh, pgIt, pgMissing, usePgServer, viaProxy } from "./pg-fixture.ts";

const pg = usePgServer({ tcpAddress: "127.0.0.1" });
const bouncerIt = pgMissing === null && pgBouncerMissing() === null ? pgIt : pgIt.skip;

describe("cluster database checks", () => {
  pgIt("creates the schema once when several nodes start together, and refuses a schema of another version", async () => {
    const schema = freshSchema();
    const url = pg.get().url;
    const dbs = await Promise.all([1, 2, 3].map(() => openClusterDb({ url, schema })));
    const slots = await dbs[0]!.query<{ n: string }>(`SELECT count(*) AS n FROM ${dbs[0]!.tables.slots}`);
    expect(Number(slots.rows[0]!.n)).toBe(256);
    await dbs[0]!.query(`UPDATE ${dbs[0]!.tables.meta} SET value = '99' WHERE key = 'version'`);
    await Promise.all(dbs.map((d) => d.close()));
    await expect(openClusterDb({ url, schema })).rejects.toMatchObject({ code: "ERR_CLUSTER_DATABASE", message: expect.stringMatching(/version 99/) });
  });

  pgIt("refuses a database where synchronous_commit is off, and a read-only one", async () => {
    const server = pg.get();
    psql(server, "CREATE DATABASE async_db");
    psql(server, "ALTER DATABASE async_db SET synchronous_commit = off");
    psql(server, "CREATE DATABASE ro_db");
    psql(server, "ALTER DATABASE ro_db SET default_transaction_read_only = on");
    const at = (db: string) => server.url.replace("/postgres?", `/${db}?`);
    await expect(openFresh(at("async_db"))).rejects.toMatchObject({
      code: "ERR_CLUSTER_DATABASE",
      message: expect.stringMatching(/synchronous_commit is off/),
    });
    await expect(openFresh(at("ro_db"))).rejects.toMatchObject({ code: "ERR_CLUSTER_DATABASE", message: expect.stringMatching(/read-only/) });
  });

  pgIt("names an unreachable database clearly, without its password", async () => {
    await expect(openClusterDb({ url: "postgres://torpor:secret@127.0.0.1:1/postgres", schema: freshSchema(), connectTimeoutMs: 2_000 })).rejects.toMatchObject(
      { code: "ERR_CLUSTER_DATABASE", message: expect.not.stringMatching(/secret/) },
    );
  });

  bouncerIt("refuses to start behind PgBouncer in transaction mode, and starts behind one in session mode", async () => {
    const server = pg.get();
    const tx = await startPgBouncer(server, "transaction");
    try {
      await expect(openFresh(tx.url)).rejects.toMatchObject({ code: "ERR_CLUSTER_POOLER", message: expect.stringMatching(/transaction mode/) });
    } finally {
      await tx.stop();
    }
    const session = await startPgBouncer(server, "session");
    try {
      const db = await openFresh(session.url);
      await db.close();
    } finally {
      await session.stop();
    }
  });
  pgIt("a link cut while the pooler check holds its two connections fails the start, never the process", async () => {
    // Before the fix the check held both connections with no 'error' listener: the cut made pg emit an uncaught
    // "Connection terminated unexpectedly", which ends a node process (vitest reports it as an unhandled error).
    const { proxy, url } = await viaProxy(pg.get());
    // The check's first statement is the only one that asks pg_backend_pid(): its connection drops as it is sent.
    const dropped = proxy.dropOnce("pg_backend_pid", "before-request");
    await expect(openFresh(url)).rejects.toMatchObject({ code: "ERR_CLUSTER_DATABASE", message: expect.stringMatching(/terminated/) });
    await dropped;
  });

  pgIt("a second connection of the pooler check that cannot open fails the start instead of hanging it", async () => {
    // Before the fix the check's first connection was never released when the second one failed: closing the pool
    // then waited for it forever (the start hung), and it had no 'error' listener left when its link finally broke.
    const { proxy, url } = await viaProxy(pg.get());
    // The start's first connection serves the server check, the schema and then the check's first checkout;
    // the only other connection it opens is the check's second one.
    proxy.admit = 1;
    await expect(openFresh(url, { connectTimeoutMs: 2_000 })).rejects.toMatchObject({
      code: "ERR_CLUSTER_DATABASE",
      message: expect.stringMatching(/timeout/),
    });
  });

  pgIt("refuses a pool too small for the pooler check instead of hanging", async () => {
    const url = pg.get().url;
    for (const poolSize of [1, 0, 1.5]) {
      await expect(openClusterDb({ url, schema: freshSchema(), poolSize })).rejects.toMatchObject({
        code: "ERR_CLUSTER_DATABASE",
        message: expect.stringMatching(/poolSize must be a whole number of at least 2/),
      });
    }
    await expect(openClusterDb({ url, schema: freshSchema(), poolSize: 0, skipPoolerCheck: true })).rejects.toMatchObject({
      code: "ERR_CLUSTER_DATABASE",
      message: expect.stringMatching(/at least 1/),
    });
    const db = await openClusterDb({ url, schema: freshSchema(), poolSize: 2 });
    await db.close();
  });
});
