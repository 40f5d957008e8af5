/**
 * An object's storage closed while a `transaction()` closure is still open
 * (a closure left running from a timer or `waitUntil()` when the object shuts
 * down, or a constructor that throws after starting one): nothing of the
 * closure was acknowledged, and PostgreSQL never got it. The local file must
 * not keep it either: the claim survives the close, so the next activation on
 * this node runs on that file, and later commits ship pages on top of what
 * PostgreSQL holds. Had the close committed the closure locally (as SQLite's
 * close of the batch does), this node would serve a write no other node can
 * restore, and ship pages written over a database PostgreSQL never had.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished } from "vitest";
import { hexFromName } from "@torpor/core/cluster";
import type { ObjectKey, StorageHooks } from "@torpor/core/storage";
import { LogShipper, NodeLease, ObjectLog, SlotLeases, postgresStorage } from "../src/index.ts";
import { openFresh, pgIt, usePgServer } from "./pg-fixture.ts";
import { restoredRows } from "./restored-rows.ts";

const pg = usePgServer();

/** Commits happen when the test asks (no runtime, no output gate). */
const hooks: StorageHooks = { writeStarted() {}, alarmChanged() {}, flush: async () => {}, holdInput: <T>(p: Promise<T>) => p };

describe("closing storage with a transaction() closure open (PostgreSQL provider)", () => {
  for (const fresh of [false, true])
    pgIt(
      `drops the closure's writes locally too: the next activation on this node holds what PostgreSQL holds (${fresh ? "a fresh object: the closure holds its first write" : "after a shipped write"})`,
      async () => {
        const url = pg.get().url;
        const db = await openFresh(url);
        onTestFinished(() => db.close());
        const dir = mkdtempSync(join(tmpdir(), "torpor-closure-close-"));
        const lease = await NodeLease.join(db, { nodeId: "a", address: "a:1", ttlMs: 60_000 });
        const slots = new SlotLeases(db, "a");
        await slots.rebalance();
        const log = new ObjectLog(db);
        const shipper = new LogShipper(log, { canAcknowledge: () => lease.valid() });
        const storage = postgresStorage({ dir, nodeId: "a", log, shipper, slotEpoch: (s) => slots.owned.get(s) ?? null });
        onTestFinished(() => {
          lease.stop();
          storage.close();
          rmSync(dir, { recursive: true, force: true });
        });
        const key: ObjectKey = { namespace: "NS", id: hexFromName("NS", "closing"), name: "closing" };

        await storage.prepare!(key);
        const first = storage.open(key, hooks);
        if (!fresh) {
          await first.api.put("before", 1);
          await first.commitAsync!();
        }
        let opened!: () => void;
        const inside = new Promise<void>((resolve) => {
          opened = resolve;
        });
        // The closure writes, then waits for something that never comes; its storage closes under it.
        const closure = first.api.transaction(async (txn) => {
          await txn.put("x", "in the closure");
          opened();
          await new Promise(() => {});
        });
        closure.catch(() => {});
        await inside;
        first.close();

        // Same node, claim still held: no restore, the local file is what runs.
        expect(storage.prepare!(key)).toBeNull();
        const second = storage.open(key, hooks);
        expect(await second.api.get("x"), "the abandoned closure's write").toBeUndefined();
        expect(await second.api.get("before")).toBe(fresh ? undefined : 1);
        await second.api.put("after", 2);
        await second.commitAsync!();
        const local = [...(await second.api.list()).keys()];
        second.close();
        await shipper.idle();
        const restored = await restoredRows(url, "SELECT key FROM _cf_KV ORDER BY key", db.tables.schema);
        expect(restored.get("closing")).toEqual(local.map((k) => ({ key: k })));
        expect(local).toEqual(fresh ? ["after"] : ["after", "before"]);
      },
    );
});
