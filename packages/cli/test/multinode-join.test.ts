/**
 * A node joining a running cluster takes slots only once its workers serve.
 * While they still load (a large bundle, slow module-level code, a loaded
 * machine) the nodes already running keep every object, and calls through them
 * answer. A node that took its share first held its slots' calls until its
 * workers came up: in the fault schedule (seed 1521, load average 25) six calls
 * on the two other nodes waited past the 25 s deadline while a restarted node
 * loaded for a minute.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { pgIt, usePgServer } from "../../postgres/test/pg-fixture.ts";
import { workerSource } from "./cluster-helpers.ts";
import { clusterOn, multinodeProject, slotOwners, startNode } from "./multinode-helpers.ts";

const pg = usePgServer();
const TTL = 3_000;
const { freshDatabase } = clusterOn(pg, TTL);
/** How long the joining node's Worker module takes to load (a top-level await: no CPU spent). */
const LOAD_MS = 25_000;
/** A call answered by a node that serves its object takes milliseconds; one held for the joining node takes about LOAD_MS. */
const CALL_MS = 12_000;

describe("a node joining a running cluster", () => {
  pgIt(
    "takes no slot while its workers load: the running node answers for every object meanwhile, then they split the slots",
    async () => {
      const url = freshDatabase();
      const args = ["--lease-ttl-ms", String(TTL)];
      const a = await startNode(multinodeProject(), "a", url, args);
      await expect.poll(async () => [...(await slotOwners(url)).values()], { timeout: 30_000, interval: 200 }).toEqual([256]);

      const slowDir = multinodeProject();
      writeFileSync(join(slowDir, "worker.js"), `${workerSource("v1")}\nawait new Promise((resolve) => setTimeout(resolve, ${LOAD_MS}));\n`);
      let bServes = false;
      const starting = startNode(slowDir, "b", url, args).then((node) => {
        bServes = true;
        return node;
      });
      starting.catch(() => {});
      // Objects all over the slot space, through a, until b serves (it cannot before its module loaded).
      let calls = 0;
      for (let i = 0; !bServes; i = (i + 1) % 64, calls++) {
        const r = await a.get(`/rpc/j-${i}/hello`, CALL_MS);
        expect(r.status, `j-${i} through a while b loads`).toBe(200);
      }
      expect(calls).toBeGreaterThan(10);
      const b = await starting;
      // Once b serves, it takes its share, and both answer for every object.
      await expect.poll(async () => [...(await slotOwners(url)).values()].sort(), { timeout: 60_000, interval: 250 }).toEqual([128, 128]);
      for (let i = 0; i < 16; i++) {
        expect((await b.get(`/rpc/j-${i}/hello`, 30_000)).status).toBe(200);
        expect((await a.get(`/rpc/j-${i}/hello`, 30_000)).status).toBe(200);
      }
    },
    240_000,
  );
});
