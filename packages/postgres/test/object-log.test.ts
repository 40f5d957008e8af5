/**
 * The fence on real PostgreSQL: claims need the slot, appends need the
 * current epoch and the next sequence number, a newer claim shuts the old
 * owner out, snapshots truncate the log and a load reads a consistent view.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, onTestFinished } from "vitest";
import { slotOf } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import { NodeLease, ObjectLog, SlotLeases, objectKeyString } from "../src/index.ts";
import { openFresh, pgIt, usePgServer } from "./pg-fixture.ts";

const pg = usePgServer();

function key(name: string): ObjectKey {
  return { namespace: "Room", id: createHash("sha256").update(name).digest("hex"), name };
}

/** A fresh schema and a node that joined it and owns every slot (alone in it); the database closes when the test ends. */
async function soleNode(nodeId = "node-a") {
  const db = await openFresh(pg.get().url);
  onTestFinished(() => db.close());
  const lease = await NodeLease.join(db, { nodeId, address: "127.0.0.1:1", ttlMs: 30_000 });
  const slots = new SlotLeases(db, nodeId);
  await slots.rebalance();
  return { db, lease, slots, log: new ObjectLog(db) };
}

describe("object log", () => {
  pgIt("claims under a new epoch only with the slot, and appends only at head + 1 under the current epoch", async () => {
    const { lease, slots, log } = await soleNode();
    const k = key("room-1");
    const slot = slotOf(k.id);
    const slotEpoch = slots.owned.get(slot)!;
    expect(await log.claim(k, slot, slotEpoch + 1, "node-a")).toBeNull(); // wrong slot epoch
    expect(await log.claim(k, slot, slotEpoch, "node-b")).toBeNull(); // not the owner
    const first = await log.claim(k, slot, slotEpoch, "node-a");
    expect(first).toEqual({ epoch: 1, head: 0, snapshotSeq: 0, alarm: null });

    const rec = (s: string) => Buffer.from(s);
    const ok = await log.append([{ key: k, epoch: 1, seq: 1, record: rec("one"), alarm: 42 }]);
    expect(ok.has(objectKeyString(k))).toBe(true);
    // Out of step (seq 3 after head 1), and a replay of seq 1: both refused.
    expect((await log.append([{ key: k, epoch: 1, seq: 3, record: rec("three"), alarm: null }])).size).toBe(0);
    expect((await log.append([{ key: k, epoch: 1, seq: 1, record: rec("again"), alarm: null }])).size).toBe(0);

    // A second claim (a new owner) raises the epoch: the old epoch's appends fail from then on.
    const second = await log.claim(k, slot, slotEpoch, "node-a");
    expect(second).toEqual({ epoch: 2, head: 1, snapshotSeq: 0, alarm: 42 });
    expect((await log.append([{ key: k, epoch: 1, seq: 2, record: rec("stale"), alarm: null }])).size).toBe(0);
    expect((await log.append([{ key: k, epoch: 2, seq: 2, record: rec("two"), alarm: null }])).size).toBe(1);

    const stored = await log.load(k);
    expect(stored.head).toBe(2);
    expect(stored.records.map(String)).toEqual(["one", "two"]);
    lease.stop();
  });

  pgIt("prepares the commit statements once per connection; their cached plans fence as the first ones did", async () => {
    const { db, lease, slots, log } = await soleNode();
    const k = key("room-prepared");
    const other = key("room-prepared-2");
    const { epoch } = (await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "node-a"))!;
    await log.claim(other, slotOf(other.id), slots.owned.get(slotOf(other.id))!, "node-a");
    await db.withClient(async (c) => {
      // Past PostgreSQL's five custom plans, so the cached (generic) plans run the later appends: one object alone,
      // then with another in the same statement.
      for (let seq = 1; seq <= 8; seq++) expect((await log.appendOn(c, [{ key: k, epoch, seq, record: Buffer.from(`r${seq}`), alarm: null }])).size).toBe(1);
      expect((await log.appendOn(c, [{ key: k, epoch, seq: 8, record: Buffer.from("replay"), alarm: null }])).size).toBe(0);
      expect((await log.appendOn(c, [{ key: k, epoch: epoch - 1, seq: 9, record: Buffer.from("stale"), alarm: null }])).size).toBe(0);
      for (let seq = 9; seq <= 16; seq++) {
        const batch = [
          { key: k, epoch, seq, record: Buffer.from(`r${seq}`), alarm: null },
          { key: other, epoch: 1, seq: seq - 8, record: Buffer.from(`o${seq - 8}`), alarm: null },
        ];
        expect((await log.appendOn(c, batch)).size).toBe(2);
      }
      const replay = [
        { key: k, epoch, seq: 16, record: Buffer.from("replay"), alarm: null },
        { key: other, epoch: 0, seq: 9, record: Buffer.from("stale"), alarm: null },
      ];
      expect((await log.appendOn(c, replay)).size).toBe(0);
      const prepared = await c.query<{ name: string; statement: string }>(
        "SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'torpor_append_%' ORDER BY name",
      );
      expect(prepared.rows.map((r) => r.name.replace(/[0-9a-f]{16}$/, ""))).toEqual(["torpor_append_", "torpor_append_one_"]);
      expect(prepared.rows[0]!.statement).toContain("o.epoch = v.epoch AND o.head = v.seq - 1");
      // A lone object's commit binds plain values: no arrays to write as text, parse and unnest.
      expect(prepared.rows[1]!.statement).toContain("epoch = $3 AND head = $4 - 1");
      expect(prepared.rows[1]!.statement).not.toContain("unnest");
    });
    expect((await log.load(k)).records.map(String)).toEqual(Array.from({ length: 16 }, (_, i) => `r${i + 1}`));
    expect((await log.load(other)).records.map(String)).toEqual(Array.from({ length: 8 }, (_, i) => `o${i + 1}`));
    lease.stop();
  });

  pgIt("keeps a record of a few KB in its log row, not in TOAST", async () => {
    const { db, lease, slots, log } = await soleNode();
    const k = key("room-inline");
    await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "node-a");
    // Incompressible, past PostgreSQL's default TOAST threshold (~2 KB) and below a page.
    const random = [2_200, 4_000, 7_900].map((n) => randomBytes(n));
    for (const [i, record] of random.entries()) await log.append([{ key: k, epoch: 1, seq: i + 1, record, alarm: null }]);
    const toast = await db.query<{ bytes: string }>(`SELECT pg_relation_size(reltoastrelid) AS bytes FROM pg_class WHERE oid = '${db.tables.log}'::regclass`);
    expect(Number(toast.rows[0]!.bytes)).toBe(0);
    const stored = await log.load(k);
    expect(stored.records.map((r, i) => r.equals(random[i]!))).toEqual([true, true, true]);
    lease.stop();
  });

  pgIt("appends many objects in one statement, writing only those whose fence held", async () => {
    const { lease, slots, log } = await soleNode();
    const keys = Array.from({ length: 20 }, (_, i) => key(`obj-${i}`));
    for (const k of keys) await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "node-a");
    // Every third object is sent with a stale epoch: only it is refused.
    const batch = keys.map((k, i) => ({ key: k, epoch: i % 3 === 0 ? 0 : 1, seq: 1, record: Buffer.from(`r${i}`), alarm: null }));
    const written = await log.append(batch);
    expect(written.size).toBe(keys.filter((_, i) => i % 3 !== 0).length);
    const heads = await log.heads(keys);
    keys.forEach((k, i) => {
      expect(heads.get(objectKeyString(k))!.head, `object ${i}`).toBe(i % 3 === 0 ? 0 : 1);
    });
    for (const [i, k] of keys.entries()) expect((await log.load(k)).records.map(String)).toEqual(i % 3 === 0 ? [] : [`r${i}`]);
    lease.stop();
  });

  pgIt("writes snapshots under the fence, truncates the log behind them, and loads snapshot + log", async () => {
    const { db, lease, slots, log } = await soleNode();
    const k = key("snap");
    await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "node-a");
    for (let seq = 1; seq <= 5; seq++) await log.append([{ key: k, epoch: 1, seq, record: Buffer.from(`r${seq}`), alarm: null }]);
    // A snapshot larger than one chunk, as of seq 3.
    const image = Buffer.alloc((1 << 20) * 2 + 123, 7);
    expect(await log.snapshot(k, 0, 3, image)).toBe(false); // stale epoch
    expect(await log.snapshot(k, 1, 6, image)).toBe(false); // past the head
    expect(await log.snapshot(k, 1, 3, image)).toBe(true);
    expect(await log.snapshot(k, 1, 2, image)).toBe(false); // older than the current one
    const stored = await log.load(k);
    expect(stored.snapshotSeq).toBe(3);
    expect(stored.snapshot!.equals(image)).toBe(true);
    expect(stored.records.map(String)).toEqual(["r4", "r5"]);
    const left = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${db.tables.log}`);
    expect(Number(left.rows[0]!.n)).toBe(2);
    lease.stop();
  });

  pgIt("settles an unknown outcome by raising the epoch and reading the head", async () => {
    const { lease, slots, log } = await soleNode();
    const written = key("written");
    const notWritten = key("not-written");
    const taken = key("taken");
    for (const k of [written, notWritten, taken]) await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "node-a");
    await log.append([{ key: written, epoch: 1, seq: 1, record: Buffer.from("x"), alarm: null }]);
    await log.claim(taken, slotOf(taken.id), slots.owned.get(slotOf(taken.id))!, "node-a"); // someone raised it to 2
    const settled = await log.settle([written, notWritten, taken].map((k) => ({ key: k, epoch: 1 })));
    expect(settled.get(objectKeyString(written))).toEqual({ epoch: 2, head: 1 });
    expect(settled.get(objectKeyString(notWritten))).toEqual({ epoch: 2, head: 0 });
    expect(settled.has(objectKeyString(taken))).toBe(false);
    // The statement that was lost in flight now fails its fence whenever it arrives.
    expect((await log.append([{ key: notWritten, epoch: 1, seq: 1, record: Buffer.from("late"), alarm: null }])).size).toBe(0);
    lease.stop();
  });

  pgIt("lists the alarms of a slot set", async () => {
    const { lease, slots, log } = await soleNode();
    const a = key("alarm-a");
    const b = key("alarm-b");
    for (const k of [a, b]) await log.claim(k, slotOf(k.id), slots.owned.get(slotOf(k.id))!, "node-a");
    await log.append([
      { key: a, epoch: 1, seq: 1, record: Buffer.from("x"), alarm: 1_700_000_000_000 },
      { key: b, epoch: 1, seq: 1, record: Buffer.from("x"), alarm: null },
    ]);
    const found = await log.alarms([slotOf(a.id), slotOf(b.id)]);
    expect(found).toEqual([{ key: a, alarm: 1_700_000_000_000 }]);
    lease.stop();
  });
});
