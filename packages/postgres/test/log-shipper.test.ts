/**
 * The commit pipeline against real PostgreSQL, through a TCP proxy that can
 * lose a statement's reply (it ran), lose the statement itself (it did not),
 * or cut the link: every commit is either acknowledged and in the log, or
 * rejected and not acknowledged; sequences stay contiguous.
 */
import { createHash } from "node:crypto";
import { describe, expect } from "vitest";
import { slotOf } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import { LogShipper, LogStream, NodeLease, ObjectLog, SlotLeases, decodeRecord, type ClusterDb, type PageRecord } from "../src/index.ts";
import { openFresh, pgIt, usePgServer, viaProxy } from "./pg-fixture.ts";

const pg = usePgServer({ tcpAddress: "127.0.0.1" });

function key(name: string): ObjectKey {
  return { namespace: "Room", id: createHash("sha256").update(name).digest("hex"), name };
}

/** A one-page record whose first bytes say which commit it is. */
function record(n: number): PageRecord {
  const page = Buffer.alloc(4096);
  page.writeUInt32BE(n, 0);
  return { pageSize: 4096, dbPages: 1, pages: new Map([[1, page]]) };
}
const commitOf = (bytes: Buffer) => decodeRecord(bytes).pages.get(1)!.readUInt32BE(0);

async function setUp(db: ClusterDb, names: string[]) {
  const lease = await NodeLease.join(db, { nodeId: "n1", address: "x", ttlMs: 60_000 });
  const slots = new SlotLeases(db, "n1");
  await slots.rebalance();
  const log = new ObjectLog(db);
  const streams = [];
  for (const name of names) {
    const k = key(name);
    const claim = (await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "n1"))!;
    streams.push(new LogStream(k, claim.epoch, claim.head));
  }
  return { lease, log, streams };
}

describe("log shipper", () => {
  pgIt("ships the commits of one turn in one statement and merges an object's commits while one is in flight", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const { lease, log, streams } = await setUp(
        db,
        Array.from({ length: 50 }, (_, i) => `o${i}`),
      );
      const shipper = new LogShipper(log, { maxInflight: 1 });
      // Turn 1: 50 objects commit once each; turn 2 (while turn 1 is in flight): object 0 commits twice more.
      const first = streams.map((s, i) => shipper.ship(s, record(i), null));
      await new Promise((r) => setImmediate(r));
      const later = [shipper.ship(streams[0]!, record(100), null), shipper.ship(streams[0]!, record(101), 5)];
      await Promise.all([...first, ...later]);
      expect(shipper.stats.statements).toBe(2);
      expect(streams[0]!.head).toBe(2);
      const stored = await log.load(streams[0]!.key);
      expect(stored.records.map(commitOf)).toEqual([0, 101]);
      const heads = await log.heads(streams.map((s) => s.key));
      expect([...heads.values()].every((h) => h.head >= 1)).toBe(true);
      lease.stop();
    } finally {
      await db.close();
    }
  });

  pgIt("rejects a fenced commit and everything queued behind it, and ships nothing more for that object", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const { lease, log, streams } = await setUp(db, ["fenced", "fine"]);
      const [fenced, fine] = streams as [LogStream, LogStream];
      const shipper = new LogShipper(log);
      await shipper.ship(fenced, record(1), null);
      // Another owner claims it (as after this node's lease expired).
      await db.query(`UPDATE ${db.tables.objects} SET epoch = epoch + 1 WHERE id = $1`, [fenced.key.id]);
      const refused = shipper.ship(fenced, record(2), null);
      const ok = shipper.ship(fine, record(1), null);
      await expect(refused).rejects.toMatchObject({ code: "ERR_CLUSTER_FENCED" });
      await ok;
      await expect(shipper.ship(fenced, record(3), null)).rejects.toMatchObject({ code: "ERR_CLUSTER_FENCED" });
      expect((await log.load(fenced.key)).records.map(commitOf)).toEqual([1]);
      expect(shipper.stats.fenceFailures).toBe(1);
      lease.stop();
    } finally {
      await db.close();
    }
  });

  pgIt("acknowledges a commit whose reply was lost after it ran, and resends one that never arrived", async () => {
    const { proxy, url } = await viaProxy(pg.get());
    const db = await openFresh(url);
    try {
      const { lease, log, streams } = await setUp(db, ["lost-reply", "lost-request"]);
      const [a, b] = streams as [LogStream, LogStream];
      const shipper = new LogShipper(log);

      // The statement runs and commits; the connection dies before its reply gets back.
      const dropped = proxy.dropOnce("torpor_append_", "after-reply");
      const acked = shipper.ship(a, record(1), null);
      await dropped;
      await acked;
      expect(a.head).toBe(1);
      expect(a.epoch).toBe(2); // raised to settle the outcome

      // The statement never reaches the server: settled as not written, then sent again.
      const lost = proxy.dropOnce("torpor_append_", "before-request");
      const resent = shipper.ship(b, record(7), null);
      await lost;
      await resent;
      expect(b.head).toBe(1);
      expect((await log.load(b.key)).records.map(commitOf)).toEqual([7]);
      expect((await log.load(a.key)).records.map(commitOf)).toEqual([1]);
      expect(shipper.stats.unknownOutcomes).toBe(2);

      // Later commits go on under the new epochs.
      await Promise.all([shipper.ship(a, record(2), null), shipper.ship(b, record(8), null)]);
      expect((await log.load(a.key)).records.map(commitOf)).toEqual([1, 2]);
      lease.stop();
    } finally {
      await db.close();
    }
  });

  pgIt("refuses the output of commits that become durable after the lease deadline, and ships nothing more", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const { lease, log, streams } = await setUp(db, ["late"]);
      let valid = true;
      const shipper = new LogShipper(log, { canAcknowledge: () => valid });
      await shipper.ship(streams[0]!, record(1), null);
      expect(shipper.refusal()).toBeNull();
      valid = false;
      // Durable (its promise says so: the log has it), but its output is refused where it would be released.
      await shipper.ship(streams[0]!, record(2), null);
      expect((await log.load(streams[0]!.key)).records.map(commitOf)).toEqual([1, 2]);
      expect(shipper.refusal()).toMatchObject({ code: "ERR_CLUSTER_LEASE_LOST" });
      await expect(shipper.ship(streams[0]!, record(3), null)).rejects.toMatchObject({ code: "ERR_CLUSTER_LEASE_LOST" });
      expect((await log.load(streams[0]!.key)).head).toBe(2);
      lease.stop();
    } finally {
      await db.close();
    }
  });

  pgIt("waits through a cut link and commits once it is back, with nothing lost or doubled", async () => {
    const { proxy, url } = await viaProxy(pg.get());
    const db = await openFresh(url, { queryTimeoutMs: 1_000, connectTimeoutMs: 1_000 });
    try {
      const { lease, log, streams } = await setUp(db, ["a", "b", "c"]);
      const shipper = new LogShipper(log);
      const acks: Promise<void>[] = [];
      for (let n = 1; n <= 3; n++) for (const s of streams) acks.push(shipper.ship(s, record(n), null));
      await new Promise((r) => setImmediate(r));
      proxy.blackhole = true;
      for (const s of streams) acks.push(shipper.ship(s, record(4), null));
      // Let the in-flight statements time out against the blackhole, then heal.
      await expect.poll(() => shipper.stats.unknownOutcomes + shipper.stats.retries, { timeout: 10_000 }).toBeGreaterThan(0);
      proxy.blackhole = false;
      proxy.cutAll();
      await Promise.all(acks);
      for (const s of streams) {
        const stored = await log.load(s.key);
        expect(stored.head).toBe(s.head);
        // Merged commits share a record: the last one of each record is what is stored, in order, ending at 4.
        const order = stored.records.map(commitOf);
        expect(order.at(-1)).toBe(4);
        expect([...order].sort()).toEqual(order);
      }
      lease.stop();
    } finally {
      await db.close();
    }
  });
});
