/**
 * Nodes of several machines as real processes on one real PostgreSQL (on
 * this machine: each node on its own ports on 127.0.0.1; the fault suite runs
 * them in network namespaces). Any node answers for any object; a WebSocket
 * opened through a node that does not hold the object is spliced to the one
 * that does; a SIGKILLed node's objects come back on the survivor with every
 * acknowledged write, within the lease TTL + 2 s; a node paused past its lease
 * sends nothing after it wakes, closes its WebSockets with 1012 and exits 75
 * (those two in multinode-failover.test.ts, so the files run side by side).
 */
import { describe, expect } from "vitest";
import { pgIt, usePgServer } from "../../postgres/test/pg-fixture.ts";
import { Client } from "./cluster-helpers.ts";
import { clusterOn, clusterQuery, multinodeProject, nameHeldBy, nodeIdOf, ownerAndOther, slotOwners, startNode } from "./multinode-helpers.ts";

const pg = usePgServer();
const TTL = 3_000;
const { freshDatabase, twoNodes } = clusterOn(pg, TTL);

describe("torpor start --cluster", () => {
  pgIt(
    "any node answers for any object, one instance in the cluster; a WebSocket through a non-owner is spliced to the owner",
    async () => {
      const { url, a, b } = await twoNodes();
      for (let i = 0; i < 8; i++) {
        expect((await a.rpc(`obj-${i}`, "write", `from-a-${i}`)).status).toBe(200);
        expect((await b.rpc(`obj-${i}`, "write", `from-b-${i}`)).status).toBe(200);
      }
      for (let i = 0; i < 8; i++) {
        const viaA = await a.rpc(`obj-${i}`, "writes");
        expect(viaA.body.value.sort()).toEqual([`from-a-${i}`, `from-b-${i}`]);
        expect((await b.rpc(`obj-${i}`, "hello")).body.value.constructions).toBe(1);
      }
      // An error thrown in the owner keeps its class across nodes.
      const failed = await a.rpc("obj-0", "fail");
      const failedB = await b.rpc("obj-0", "fail");
      expect([failed.body.error.class, failedB.body.error.class]).toEqual(["RangeError", "RangeError"]);

      const [owner, other] = await ownerAndOther(url, "obj-3", [a, b]);
      const ownerPids = owner.pids();
      const client = new Client(`${other.url.replace("http", "ws")}/ws/obj-3`);
      await client.opened;
      client.ws.send("ping");
      const reply = await client.message(0);
      const [word, , pid] = reply.split(" ");
      expect(word).toBe("ping");
      expect(ownerPids).toContain(Number(pid)); // answered by the owner's worker
      for (let i = 0; i < 20; i++) client.ws.send(`m${i}`);
      for (let i = 0; i < 20; i++) expect((await client.message(i + 1)).split(" ")[0]).toBe(`m${i}`);
      client.ws.close();
    },
    180_000,
  );

  pgIt(
    "an object spinning forever stops its worker, not its node's lease: the node keeps renewing and the other node keeps serving",
    async () => {
      const { url, a, b } = await twoNodes(SPINNER);
      expect((await a.get("/touch/victim")).status).toBe(200);
      const [owner, other] = await ownerAndOther(url, "victim", [a, b]);
      const ownerId = nodeIdOf(owner);
      const expiry = async () =>
        Number(
          (await clusterQuery<{ ms: string }>(url, "SELECT extract(epoch FROM expires_at) * 1000 AS ms FROM torpor.nodes WHERE node_id = $1", [ownerId]))[0]!
            .ms,
        );
      // The call never returns (its worker is stuck in the loop); it is not awaited.
      void owner.get("/spin/victim", 120_000).catch(() => {});
      const first = await expiry();
      // Several lease periods later the spinning node's lease has been renewed all along and never lapsed.
      await new Promise((resolve) => setTimeout(resolve, TTL * 2));
      const later = await expiry();
      expect(later).toBeGreaterThan(first + TTL);
      expect(await clusterQuery(url, "SELECT 1 FROM torpor.nodes WHERE node_id = $1 AND expires_at > now()", [ownerId])).toHaveLength(1);
      expect(owner.server.child.exitCode).toBeNull();
      // The other node serves its own objects meanwhile. (An object of the spinning node waits behind the loop in
      // its one worker: no answer ever, through either node. So the object is one whose slot the other node holds.)
      const name = await nameHeldBy(url, nodeIdOf(other), "victim", "free-");
      const r = await other.get(`/touch/${name}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe('"ok"'); // the JSON text of touch()'s value
      expect((await ownerAndOther(url, name, [a, b]))[0]).toBe(other);
      expect(owner.server.child.exitCode).toBeNull();
    },
    180_000,
  );

  pgIt(
    "--durability local: a dead node's objects wait for it (nobody else has their data) and come back with it, same node id, data on its disk",
    async () => {
      const url = freshDatabase();
      const dir = multinodeProject();
      const local = ["--lease-ttl-ms", String(TTL), "--durability", "local"];
      const a = await startNode(dir, "a", url, local);
      const b = await startNode(dir, "b", url, local);
      // a took every free slot first; with local durability nothing moves to b (the data is on a's disk).
      expect([...(await slotOwners(url)).values()]).toEqual([256]);
      for (let i = 0; i < 5; i++) expect((await b.rpc(`l-${i}`, "write", `w${i}`)).status).toBe(200);
      const nodeId = a.server.stdout().match(/"message":"Listening".*?"node":"([^"]+)"/)![1]!;
      a.signal("SIGKILL");
      await a.exited();
      // Its lease expires; b takes nothing and its calls to a's objects fail instead of answering from nowhere.
      await expect.poll(async () => (await slotOwners(url)).size, { timeout: 30_000, interval: 200 }).toBe(0);
      const waiting = await b.rpc("l-0", "writes");
      expect(waiting.status).toBe(500);
      expect(waiting.body.error.code).toBe("ERR_OBJECT_UNAVAILABLE");
      // The same node (same data directory, so the same id) comes back with its slots and its data.
      const again = await startNode(dir, "a", url, local);
      expect(again.server.stdout()).toContain(`"node":"${nodeId}"`);
      for (let i = 0; i < 5; i++) expect((await b.rpc(`l-${i}`, "writes")).body.value).toEqual([`w${i}`]);
    },
    180_000,
  );
});

/** A Worker with an object method that never returns (a bug, or a hostile loop). */
const SPINNER = `
import { DurableObject } from "cloudflare:workers";
export class Counter extends DurableObject {
  touch() { return "ok"; }
  spin() { for (;;) {} }
}
export default {
  async fetch(request, env) {
    const [, kind, name] = new URL(request.url).pathname.split("/");
    const stub = env.COUNTER.getByName(name);
    return Response.json(kind === "spin" ? await stub.spin() : await stub.touch());
  },
};
`;
