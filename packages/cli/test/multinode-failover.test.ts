/**
 * Failover between two nodes (real processes, one real PostgreSQL): a
 * SIGKILLed node's objects come back on the survivor with every acknowledged
 * write, within the lease TTL + 2 s; a node paused past its lease sends
 * nothing after it wakes, closes its WebSockets with 1012 and exits 75.
 */
import { describe, expect } from "vitest";
import { pgIt, usePgServer } from "../../postgres/test/pg-fixture.ts";
import { Client } from "./cluster-helpers.ts";
import { clusterOn, ownerAndOther } from "./multinode-helpers.ts";

const pg = usePgServer();
const TTL = 3_000;
const { twoNodes } = clusterOn(pg, TTL);

describe("torpor start --cluster: failover", () => {
  pgIt(
    "SIGKILL of a node: the other one serves its objects with every acknowledged write, within the lease TTL + 2 s",
    async () => {
      const { url, a, b } = await twoNodes();
      const acked: string[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await a.rpc(`k-${i}`, "write", `w${i}`);
        expect(r.status).toBe(200);
        acked.push(`k-${i}`);
      }
      const [victim, survivor] = await ownerAndOther(url, "k-5", [a, b]);
      const killedAt = Date.now();
      victim.signal("SIGKILL");
      // The first answer through the survivor for an object the victim held.
      let answered = 0;
      await expect
        .poll(
          async () => {
            const r = await survivor.rpc("k-5", "writes").catch(() => ({ status: 0, body: null }));
            if (r.status === 200 && answered === 0) answered = Date.now();
            return r.status;
          },
          { timeout: 30_000, interval: 100 },
        )
        .toBe(200);
      expect(answered - killedAt).toBeLessThanOrEqual(TTL + 2_000);
      for (let i = 0; i < 12; i++) expect((await survivor.rpc(`k-${i}`, "writes")).body.value).toEqual([`w${i}`]);
    },
    180_000,
  );

  pgIt(
    "a node paused past its lease sends nothing after it wakes: its WebSockets close with 1012 and it exits 75",
    async () => {
      const { url, a, b } = await twoNodes();
      expect((await a.rpc("paused-room", "write", "x")).status).toBe(200);
      const [owner, other] = await ownerAndOther(url, "paused-room", [a, b]);
      const client = new Client(`${owner.url.replace("http", "ws")}/ws/paused-room`);
      await client.opened;
      client.ws.send("before");
      expect((await client.message(0)).split(" ")[0]).toBe("before");
      owner.signal("SIGSTOP");
      // Its lease runs out on PostgreSQL's clock and the other node takes the object.
      await expect.poll(async () => (await other.rpc("paused-room", "writes")).status, { timeout: 30_000, interval: 200 }).toBe(200);
      client.ws.send("after"); // waits in the paused node's socket buffer
      owner.signal("SIGCONT");
      const closed = await client.done;
      expect(closed.code).toBe(1012);
      expect(client.messages).toEqual([expect.stringMatching(/^before /)]);
      expect(await owner.exited()).toBe(75);
    },
    180_000,
  );
});
