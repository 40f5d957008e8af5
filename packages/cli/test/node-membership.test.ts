/**
 * A node's membership against a real PostgreSQL: the workers' deadline
 * follows the lease's renewals even while reading the slot table is stuck
 * (a slow database, a lock), so a node whose lease is renewed never fences
 * its workers. Before, the deadline went out only with a completed read of
 * the slot table, and a read still running made renewals skip theirs.
 */
import { describe, expect, onTestFinished } from "vitest";
import { silentLogger } from "@torpor/core";
import { openClusterDb } from "@torpor/postgres";
import { pgIt, usePgServer } from "../../postgres/test/pg-fixture.ts";
import { NodeMembership, type NodeTable } from "../src/cluster/node-membership.ts";
import { clusterOn, slotOwners } from "./multinode-helpers.ts";

const pg = usePgServer();
const { freshDatabase } = clusterOn(pg, 3_000);

describe("node membership", () => {
  pgIt("renewals move the workers' deadline while the slot table cannot be read", async () => {
    const url = freshDatabase();
    const tables: NodeTable[] = [];
    const lost: unknown[] = [];
    const membership = await NodeMembership.join({
      url,
      durability: "postgres",
      nodeId: "solo",
      address: "127.0.0.1:1",
      ttlMs: 3_000,
      workers: 1,
      logger: silentLogger,
      onTable: (table) => tables.push(table),
      onLost: (error) => lost.push(error),
      onDrain: async () => {},
    });
    onTestFinished(() => membership.abandon());
    expect(tables.length).toBeGreaterThan(0);

    // Another session locks the slot table: every read of it waits (then times out), renewals (the nodes table) go on.
    const locker = await openClusterDb({ url, poolSize: 1, skipPoolerCheck: true });
    onTestFinished(() => locker.close());
    let unlock!: () => void;
    const unlocked = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holding = locker.withClient(async (c) => {
      await c.query("BEGIN");
      await c.query("LOCK TABLE torpor.slots IN ACCESS EXCLUSIVE MODE");
      locked();
      await unlocked;
      await c.query("ROLLBACK");
    });
    onTestFinished(async () => {
      unlock();
      await holding.catch(() => {});
    });
    await isLocked;

    const deadlineAtLock = membership.lease.deadline;
    // Past the deadline the workers had when the lock was taken, the lease has been renewed several times.
    await expect.poll(() => membership.lease.deadline, { timeout: 20_000, interval: 100 }).toBeGreaterThan(deadlineAtLock + 3_000);
    expect(lost).toEqual([]);
    // What the workers were told covers the latest renewal (one renewal period of slack for the one in flight).
    expect(tables.at(-1)!.deadline).toBeGreaterThanOrEqual(membership.lease.deadline - 600);
    expect(tables.at(-1)!.deadline).toBeGreaterThan(deadlineAtLock + 2_000);
  });

  pgIt("another node's slots are taken when its lease ends, not at this node's next renewal", async () => {
    const url = freshDatabase();
    const join = (nodeId: string, ttlMs: number, tables: NodeTable[] = []) =>
      NodeMembership.join({
        url,
        durability: "postgres",
        nodeId,
        address: `127.0.0.1:${nodeId === "a" ? 1 : 2}`,
        ttlMs,
        workers: 1,
        logger: silentLogger,
        onTable: (table) => tables.push(table),
        onLost: () => {},
        onDrain: async () => {},
      });
    // b holds every slot, then dies (stops renewing): its lease ends on PostgreSQL's clock within its 3 s TTL.
    const b = await join("b", 3_000);
    onTestFinished(() => b.abandon());
    const tables: NodeTable[] = [];
    // a renews every 24 s (TTL 120 s); its renewals are stopped too, so no renewal reads the table again.
    const a = await join("a", 120_000, tables);
    onTestFinished(() => a.abandon());
    a.lease.stop();
    await b.abandon();
    expect(a.slots.owned.size).toBeLessThan(256);
    // a read the table when it joined (b's lease then had under 3 s left): it reads it again when that lease ends.
    await expect.poll(async () => [...(await slotOwners(url)).entries()], { timeout: 20_000, interval: 100 }).toEqual([["a", 256]]);
    await expect.poll(() => tables.at(-1)!.slots.every((worker) => worker === 0), { timeout: 5_000, interval: 50 }).toBe(true);
  });
});
