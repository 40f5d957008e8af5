/**
 * What a node checks before it joins: a schema of its version, a writable
 * primary, synchronous_commit not off, and no transaction-mode pooler in
 * between (PgBouncer, for real).
 */
import { describe, expect } from "vitest";
import { openClusterDb } from "../src/index.ts";
import { pgBouncerMissing, psql, startPgBouncer } from "./pgbouncer.ts";
import { freshSchema, openFresh, pgIt, pgMissing, usePgServer } from "./pg-fixture.ts";

const pg = usePgServer();
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
});
