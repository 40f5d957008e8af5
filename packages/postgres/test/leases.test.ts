/**
 * Node leases and slots on real PostgreSQL: expiry is PostgreSQL's, the local
 * deadline comes before it, a slot moves only after its owner's lease expired
 * and only to a node whose own lease is live.
 */
import { describe, expect } from "vitest";
import { SLOT_COUNT } from "@torpor/core/cluster";
import { VirtualClock } from "@torpor/core";
import { NodeLease, SlotLeases } from "../src/index.ts";
import { openFresh, pgIt, usePgServer } from "./pg-fixture.ts";

const pg = usePgServer();

describe("node lease", () => {
  pgIt("sets the local deadline from the renewal's send time, before PostgreSQL's expiry, and loses the lease when it passes", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const clock = new VirtualClock(0);
      const lost: string[] = [];
      const lease = await NodeLease.join(db, { nodeId: "a", address: "a:1", ttlMs: 10_000, clock, onLost: (e) => lost.push(e.code) });
      expect(lease.deadline).toBe(8_000); // sent at 0 + TTL − safety (a fifth)
      expect(lease.valid()).toBe(true);
      // The periodic renewal (every 2 s) extends it from its own send time.
      await clock.advance(2_000);
      await expect.poll(() => lease.deadline).toBe(10_000);
      const left = await db.query<{ ms: number }>(`SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM ${db.tables.nodes}`);
      expect(Number(left.rows[0]!.ms)).toBeGreaterThan(9_000);
      // Renewals stop getting through (the row is made to look stale, as after a long pause); the deadline passes.
      lease.stop();
      await clock.advance(8_000);
      expect(lease.valid()).toBe(false);
      expect(lost).toEqual(["ERR_CLUSTER_LEASE_LOST"]);
    } finally {
      await db.close();
    }
  });

  pgIt("a renewal after PostgreSQL's expiry fails and loses the lease (someone may own the slots already)", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const lost: string[] = [];
      const lease = await NodeLease.join(db, { nodeId: "a", address: "a:1", ttlMs: 60_000, onLost: (e) => lost.push(e.message) });
      await db.query(`UPDATE ${db.tables.nodes} SET expires_at = now() - interval '1 second'`);
      expect(await lease.renew()).toBe(false);
      expect(lease.valid()).toBe(false);
      expect(lost[0]).toMatch(/lost its lease/);
    } finally {
      await db.close();
    }
  });
});

describe("slot leases", () => {
  pgIt("spreads slots over live nodes and moves a dead node's slots only after its lease expired", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const a = await NodeLease.join(db, { nodeId: "a", address: "a:1", ttlMs: 60_000 });
      const b = await NodeLease.join(db, { nodeId: "b", address: "b:1", ttlMs: 60_000 });
      const slotsA = new SlotLeases(db, "a");
      const slotsB = new SlotLeases(db, "b");
      await slotsA.rebalance();
      await slotsB.rebalance();
      expect(slotsA.owned.size).toBe(SLOT_COUNT / 2);
      expect(slotsB.owned.size).toBe(SLOT_COUNT / 2);
      const fromA = [...slotsA.owned.keys()];

      // b wants more while a is live: nothing moves.
      expect((await slotsB.claimOrphans(SLOT_COUNT)).size).toBe(0);
      // a's lease expires on PostgreSQL's clock: b takes a's slots, each under a raised epoch.
      a.stop();
      await db.query(`UPDATE ${db.tables.nodes} SET expires_at = now() - interval '1 millisecond' WHERE node_id = 'a'`);
      const before = new Map(fromA.map((s) => [s, slotsA.owned.get(s)!]));
      const taken = await slotsB.claimOrphans(SLOT_COUNT);
      expect(taken.size).toBe(SLOT_COUNT / 2);
      for (const [slot, epoch] of taken) expect(epoch).toBe(before.get(slot)! + 1);
      // a learns from the table that it holds nothing.
      await slotsA.read();
      expect(slotsA.owned.size).toBe(0);
      b.stop();
    } finally {
      await db.close();
    }
  });

  pgIt("a node whose own lease expired takes no slot", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const a = await NodeLease.join(db, { nodeId: "a", address: "a:1", ttlMs: 60_000 });
      a.stop();
      await db.query(`UPDATE ${db.tables.nodes} SET expires_at = now() - interval '1 millisecond'`);
      expect((await new SlotLeases(db, "a").claimOrphans(10)).size).toBe(0);
    } finally {
      await db.close();
    }
  });

  pgIt("two nodes racing for the same orphaned slots never both win one", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const nodes = ["a", "b", "c"];
      const leases = await Promise.all(nodes.map((n) => NodeLease.join(db, { nodeId: n, address: `${n}:1`, ttlMs: 60_000 })));
      const tables = nodes.map((n) => new SlotLeases(db, n));
      await Promise.all(tables.map((t) => t.claimOrphans(SLOT_COUNT)));
      const owners = new Map<number, string>();
      tables.forEach((t, i) => {
        for (const slot of t.owned.keys()) {
          expect(owners.has(slot), `slot ${slot}`).toBe(false);
          owners.set(slot, nodes[i]!);
        }
      });
      expect(owners.size).toBe(SLOT_COUNT);
      const view = await tables[0]!.read();
      for (const v of view) expect(v.owner).toBe(owners.get(v.slot));
      for (const l of leases) l.stop();
    } finally {
      await db.close();
    }
  });

  pgIt("released slots are taken at once by another node", async () => {
    const db = await openFresh(pg.get().url);
    try {
      const a = await NodeLease.join(db, { nodeId: "a", address: "a:1", ttlMs: 60_000 });
      const b = await NodeLease.join(db, { nodeId: "b", address: "b:1", ttlMs: 60_000 });
      const slotsA = new SlotLeases(db, "a");
      await slotsA.claimOrphans(SLOT_COUNT);
      const released = await slotsA.release([0, 1, 2]);
      expect(released.sort()).toEqual([0, 1, 2]);
      const taken = await new SlotLeases(db, "b").claimOrphans(SLOT_COUNT);
      expect([...taken.keys()].sort()).toEqual([0, 1, 2]);
      a.stop();
      b.stop();
    } finally {
      await db.close();
    }
  });
});
