/**
 * A restore of a large object keeps every query within the per-query deadline.
 * `ObjectLog.load` read a whole snapshot in one query: a 10 MB one passed the
 * default 5 s deadline on a loaded machine (the bench saw it), and the object
 * could not be activated at all (ERR_STORAGE_OPEN, again at every call). It
 * now reads a few MiB per query, in one REPEATABLE READ transaction. Here the
 * link to PostgreSQL carries at most 12 MiB of answer per query within the
 * deadline (a proxy cap, so the outcome does not depend on the machine's
 * speed) and the snapshot is 32 MiB (64 MiB on the wire, bytea in hex): one
 * query for it cannot finish, queries of a few MiB do.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, onTestFinished } from "vitest";
import { slotOf } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import { NodeLease, ObjectLog, SlotLeases, openClusterDb } from "../src/index.ts";
import { startFaultProxy } from "./fault-proxy.ts";
import { freshSchema, pgIt, usePgServer } from "./pg-fixture.ts";

const pg = usePgServer({ tcpAddress: "127.0.0.1" });
const SNAPSHOT_BYTES = 32 << 20;
/** The shipped default per-query deadline. */
const DEADLINE_MS = 5_000;
const REPLY_CAP_BYTES = 12 << 20;

describe("restoring a large object", () => {
  pgIt(
    `reads a ${SNAPSHOT_BYTES >> 20} MiB snapshot and the log after it through a link that carries ${REPLY_CAP_BYTES >> 20} MiB per query, each within a ${DEADLINE_MS} ms deadline`,
    async () => {
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
      const image = randomBytes(SNAPSHOT_BYTES);
      const records = [randomBytes(3 << 20), randomBytes(100), randomBytes(5 << 20), randomBytes(1_000)];
      expect((await log.append([{ key, epoch: 1, seq: 1, record: Buffer.from("before the snapshot"), alarm: null }])).size).toBe(1);
      expect(await log.snapshot(key, 1, 1, image)).toBe(true);
      for (const [i, record] of records.entries()) expect((await log.append([{ key, epoch: 1, seq: i + 2, record, alarm: null }])).size).toBe(1);

      const proxy = await startFaultProxy({ host: "127.0.0.1", port: server.port });
      onTestFinished(() => proxy.close());
      proxy.replyCapBytes = REPLY_CAP_BYTES;
      const url = new URL(server.tcpUrl!);
      url.port = String(proxy.port);
      const slow = await openClusterDb({ url: url.toString(), schema, skipPoolerCheck: true, queryTimeoutMs: DEADLINE_MS });
      onTestFinished(() => slow.close());
      const stored = await new ObjectLog(slow).load(key);
      expect(stored.head).toBe(1 + records.length);
      expect(stored.snapshotSeq).toBe(1);
      expect(stored.snapshot!.equals(image)).toBe(true);
      expect(stored.records.length).toBe(records.length);
      for (const [i, record] of records.entries()) expect(stored.records[i]!.equals(record)).toBe(true);
    },
    180_000,
  );
});
