/**
 * A restore of a large object keeps every query within the per-query deadline.
 * `ObjectLog.load` read a whole snapshot in one query: a 10 MB one passed the
 * default 5 s deadline on a loaded machine (the bench saw it), and the object
 * could not be activated at all (ERR_STORAGE_OPEN, again at every call). It
 * now reads a few MiB per query, in one REPEATABLE READ transaction. Here the
 * link to PostgreSQL carries at most 12 MiB of answer per query within the
 * deadline (a proxy cap, so the outcome does not depend on the machine's
 * speed) and the snapshot is 32 MiB: one query for it cannot finish, queries
 * of a few MiB do.
 *
 * The reads ask for binary rows: a bytea came as hex text, twice its bytes on
 * the wire (and decoded from hex). A link that carries 3 MiB per query passes a
 * read of 2 MiB of data only in binary.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, onTestFinished } from "vitest";
import { slotOf } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import { NodeLease, ObjectLog, SlotLeases, openClusterDb } from "../src/index.ts";
import { freshSchema, pgIt, usePgServer, viaProxy } from "./pg-fixture.ts";

const pg = usePgServer({ tcpAddress: "127.0.0.1" });
const SNAPSHOT_BYTES = 32 << 20;
/** The shipped default per-query deadline. */
const DEADLINE_MS = 5_000;
const REPLY_CAP_BYTES = 12 << 20;

/** A fresh schema on the server with one object: a snapshot `image` at seq 1, then `records` (seq 2…). */
async function storedObject(image: Buffer, records: Buffer[]) {
  const server = pg.get();
  const schema = freshSchema();
  const direct = await openClusterDb({ url: server.url, schema, skipPoolerCheck: true, queryTimeoutMs: 60_000 });
  onTestFinished(() => direct.close());
  const lease = await NodeLease.join(direct, { nodeId: "writer", address: "127.0.0.1:1", ttlMs: 60_000 });
  onTestFinished(() => lease.stop());
  const slots = new SlotLeases(direct, "writer");
  await slots.rebalance();
  const log = new ObjectLog(direct);
  const key: ObjectKey = { namespace: "Blob", id: createHash("sha256").update("big").digest("hex"), name: "big" };
  const slot = slotOf(key.id);
  const claim = await log.claim(key, slot, slots.owned.get(slot)!, "writer");
  expect(claim?.epoch).toBe(1);
  expect((await log.append([{ key, epoch: 1, seq: 1, record: Buffer.from("before the snapshot"), alarm: null }])).size).toBe(1);
  expect(await log.snapshot(key, 1, 1, image)).toBe(true);
  for (const [i, record] of records.entries()) expect((await log.append([{ key, epoch: 1, seq: i + 2, record, alarm: null }])).size).toBe(1);
  return { server, schema, key };
}

/** Loads the object through a proxy that passes at most `capBytes` of answer per query, at the shipped deadline. */
async function loadThroughCap(stored: Awaited<ReturnType<typeof storedObject>>, capBytes: number) {
  const { proxy, url } = await viaProxy(stored.server);
  proxy.replyCapBytes = capBytes;
  const slow = await openClusterDb({ url, schema: stored.schema, skipPoolerCheck: true, queryTimeoutMs: DEADLINE_MS });
  onTestFinished(() => slow.close());
  return new ObjectLog(slow).load(stored.key);
}

describe("restoring a large object", () => {
  pgIt(
    "reads bytea as bytes, not hex text: 2 MiB of data per query passes a link that carries 3 MiB per query",
    async () => {
      const image = randomBytes(8 << 20);
      const records = Array.from({ length: 6 }, () => randomBytes(700 << 10));
      const loaded = await loadThroughCap(await storedObject(image, records), 3 << 20);
      expect(loaded.head).toBe(1 + records.length);
      expect(loaded.snapshot!.equals(image)).toBe(true);
      expect(loaded.records.length).toBe(records.length);
      for (const [i, record] of records.entries()) expect(loaded.records[i]!.equals(record)).toBe(true);
    },
    120_000,
  );

  pgIt(
    `reads a ${SNAPSHOT_BYTES >> 20} MiB snapshot and the log after it through a link that carries ${REPLY_CAP_BYTES >> 20} MiB per query, each within a ${DEADLINE_MS} ms deadline`,
    async () => {
      const image = randomBytes(SNAPSHOT_BYTES);
      const records = [randomBytes(3 << 20), randomBytes(100), randomBytes(5 << 20), randomBytes(1_000)];
      const stored = await loadThroughCap(await storedObject(image, records), REPLY_CAP_BYTES);
      expect(stored.head).toBe(1 + records.length);
      expect(stored.snapshotSeq).toBe(1);
      expect(stored.snapshot!.equals(image)).toBe(true);
      expect(stored.records.length).toBe(records.length);
      for (const [i, record] of records.entries()) expect(stored.records[i]!.equals(record)).toBe(true);
    },
    180_000,
  );
});
