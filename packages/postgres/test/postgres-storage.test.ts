/**
 * Objects on the PostgreSQL-backed provider, in real runtimes on real
 * PostgreSQL: an object written on one node and taken over by another after
 * the first node's lease expired comes back with every acknowledged write
 * (KV, SQL, alarm), byte for byte as the first node had it; the first node's
 * late commit is refused by the fence and never acknowledged; hibernation
 * writes a snapshot and truncates the log; a wake on the same node restores
 * nothing.
 */
import { rmSync } from "node:fs";
import { describe, expect, onTestFinished } from "vitest";
import type { ClusterDb, NodeLease } from "../src/index.ts";
import { expireLease, startTestNode, type TestNodeOptions } from "./fixtures/node-harness.ts";
import { openFresh, pgIt, usePgServer } from "./pg-fixture.ts";

const pg = usePgServer();

/** One node in this process, stopped and its directory removed when the test ends. */
async function startNode(db: ClusterDb, nodeId: string, options: TestNodeOptions = {}) {
  const node = await startTestNode(db, nodeId, options);
  onTestFinished(async () => {
    node.lease.stop();
    await node.runtime.close().catch(() => {});
    rmSync(node.dir, { recursive: true, force: true });
  });
  return node;
}

/** Stops a node's renewals and ends its lease on PostgreSQL's clock (as if it stopped renewing long ago). */
async function expire(db: ClusterDb, node: { lease: NodeLease }) {
  node.lease.stop();
  await expireLease(db, node.lease.nodeId);
}

describe("postgresStorage", () => {
  pgIt("a node taking over restores every acknowledged write exactly, and the old owner's late commit is refused", async () => {
    const db = await openFresh(pg.get().url);
    onTestFinished(() => db.close());
    const a = await startNode(db, "a");
    const stubA = a.ns.getByName("ledger-1");
    for (let n = 1; n <= 40; n++) await stubA.write(n, 50 + n * 37);
    await stubA.setAlarmAt(Date.now() + 3_600_000);
    const before = await stubA.dump();
    expect(before.rows).toHaveLength(40);

    await expire(db, a);
    const b = await startNode(db, "b");
    const stubB = b.ns.getByName("ledger-1");
    expect(await stubB.dump()).toEqual(before);
    await stubB.write(41);

    // Node a still has the instance in memory and tries to commit: its fence fails, nothing is acknowledged.
    await expect(stubA.write(999)).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED", cause: { code: "ERR_CLUSTER_FENCED" } });
    const after = await stubB.dump();
    expect(after.rows.map((r) => r.n)).toEqual([...before.rows.map((r) => r.n), 41]);
  });

  pgIt(
    "a stub call inside a transaction() closure completes: the provider says the closure is open, so the call waits only for committed batches",
    async () => {
      const db = await openFresh(pg.get().url);
      onTestFinished(() => db.close());
      const a = await startNode(db, "a");
      expect(await a.ns.getByName("caller").callInTransaction()).toBe(1);
    },
  );

  pgIt("commits of many objects in one turn share statements, and each object's sequence stays contiguous", async () => {
    const db = await openFresh(pg.get().url);
    onTestFinished(() => db.close());
    const a = await startNode(db, "a");
    const stubs = Array.from({ length: 30 }, (_, i) => a.ns.getByName(`o${i}`));
    for (let round = 1; round <= 5; round++) await Promise.all(stubs.map((s) => s.write(round)));
    // 30 objects × 5 rounds, plus each object's first commit (its schema): far fewer statements than commits.
    expect(a.shipper.stats.records).toBeGreaterThanOrEqual(30 * 5);
    expect(a.shipper.stats.statements).toBeLessThan(a.shipper.stats.records / 3);
    const seqs = await db.query<{ id: string; seqs: string[] }>(`SELECT id, array_agg(seq ORDER BY seq) AS seqs FROM ${db.tables.log} GROUP BY id`);
    for (const row of seqs.rows) expect(row.seqs.map(Number)).toEqual(row.seqs.map((_, i) => i + 1));
  });

  pgIt("hibernation writes a snapshot and truncates the log; a wake on the same node reuses its claim; a takeover restores from snapshot + log", async () => {
    const db = await openFresh(pg.get().url);
    onTestFinished(() => db.close());
    const a = await startNode(db, "a", { snapshotAfterBytes: 1 });
    const stub = a.ns.getByName("snap");
    for (let n = 1; n <= 10; n++) await stub.write(n, 2_000);
    const logRows = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${db.tables.log}`)).rows[0]!.n);
    expect(await logRows()).toBeGreaterThan(0);
    await a.runtime.hibernate(a.ns.idFromName("snap"));
    await a.storage.snapshotsSettled();
    expect(await logRows()).toBe(0);
    const epoch = async () => Number((await db.query<{ epoch: string }>(`SELECT epoch FROM ${db.tables.objects}`)).rows[0]!.epoch);
    const epochBefore = await epoch();
    await stub.write(11);
    expect(await epoch()).toBe(epochBefore); // woken without a new claim
    expect(await logRows()).toBe(1);
    const expected = await stub.dump();

    await expire(db, a);
    const b = await startNode(db, "b");
    expect(await b.ns.getByName("snap").dump()).toEqual(expected);
  });

  pgIt("a live object's log is folded into a snapshot once it passes compactAfterBytes, without hibernating; a takeover restores it exactly", async () => {
    const db = await openFresh(pg.get().url);
    onTestFinished(() => db.close());
    const a = await startNode(db, "a", { snapshotAfterBytes: 1 << 30, compactAfterBytes: 30_000 });
    const stub = a.ns.getByName("busy");
    for (let n = 1; n <= 40; n++) await stub.write(n, 2_000);
    await a.storage.snapshotsSettled();
    const counts = await db.query<{ log: string; snaps: string }>(
      `SELECT (SELECT count(*) FROM ${db.tables.log}) AS log, (SELECT count(DISTINCT seq) FROM ${db.tables.snapshots}) AS snaps`,
    );
    expect(Number(counts.rows[0]!.snaps)).toBe(1);
    expect(Number(counts.rows[0]!.log)).toBeLessThan(40);
    expect(a.runtime.inspect(a.ns.idFromName("busy")).state).toBe("live");
    const expected = await stub.dump();
    await expire(db, a);
    const b = await startNode(db, "b");
    expect(await b.ns.getByName("busy").dump()).toEqual(expected);
  });
});
