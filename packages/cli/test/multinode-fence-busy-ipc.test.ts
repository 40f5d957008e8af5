/**
 * A healthy node never fences itself. The supervisor accepts every client
 * connection and passes it to a worker over the IPC channel, and Node queues
 * every later message on that channel until the worker acknowledged the
 * passed socket (one round trip per socket). The lease's new deadline went to
 * the workers on that channel: when a thousand connections arrived at once
 * (the bench's durable part at 1,000 objects) and the worker was busy, the
 * deadline waited behind them past the old one, and the worker fenced itself
 * ("the node's lease deadline passed") while the supervisor renewed the lease
 * every period, resetting 1,000 objects. The workers now read the deadline
 * the supervisor last wrote (a file) before they judge theirs passed.
 */
import { writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { pgIt, usePgServer } from "../../postgres/test/pg-fixture.ts";
import { clusterOn, multinodeProject, slotOwners, startNode } from "./multinode-helpers.ts";

const pg = usePgServer();
const TTL = 3_000;
const { freshDatabase } = clusterOn(pg, TTL);
/** Connections opened at once, each a request that keeps the worker busy for BURN_MS. */
const CONNECTIONS = 800;
const BURN_MS = 5;

const SOURCE = `
export class Counter {}
export default {
  fetch() {
    const end = performance.now() + ${BURN_MS};
    while (performance.now() < end);
    return new Response("ok");
  },
};
`;

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 120_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within 120000 ms`)));
    req.on("error", reject);
  });
}

describe("a node's workers and their lease deadline", () => {
  pgIt(
    `do not fence themselves while ${CONNECTIONS} connections pass to a busy worker and the lease is renewed`,
    async () => {
      const url = freshDatabase();
      const dir = multinodeProject();
      writeFileSync(join(dir, "worker.js"), SOURCE);
      const node = await startNode(dir, "a", url, ["--lease-ttl-ms", String(TTL)]);
      await expect.poll(async () => [...(await slotOwners(url)).values()], { timeout: 30_000, interval: 200 }).toEqual([256]);
      expect((await node.get("/")).status).toBe(200);
      // The queue of passed sockets takes at least CONNECTIONS × BURN_MS (4 s): longer than the deadline's lead (2.4 s).
      const started = performance.now();
      const statuses = await Promise.allSettled(Array.from({ length: CONNECTIONS }, () => status(`${node.url}/burn`)));
      const elapsed = performance.now() - started;
      const out = node.server.stdout();
      expect(out, "the supervisor kept its lease (else this run proves nothing)").not.toContain("Lost the cluster lease");
      expect(out, `the worker fenced itself after ${Math.round(elapsed)} ms`).not.toContain("Fencing this node");
      expect(statuses.filter((s) => s.status !== "fulfilled" || s.value !== 200).length).toBe(0);
      expect(node.server.child.exitCode).toBeNull();
      expect((await node.get("/")).status).toBe(200);
    },
    180_000,
  );
});
