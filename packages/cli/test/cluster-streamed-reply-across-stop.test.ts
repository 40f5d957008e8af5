/**
 * A worker that stops while a direct call to one of its objects runs lets the
 * call's streamed answer finish before it ends its direct channels (604bc8a,
 * fault seed 2229088118).
 *
 * The object's call is running when its worker's stop() begins, so stop()'s
 * first wait for body streams finds none; the object answers while the worker
 * closes, and its body streams to the caller on their direct channel during
 * close. Ending the channels right after close cut that body after its first
 * window ('The worker process streaming this body exited before its end').
 *
 * No timing decides the order: the object disconnects its own worker from the
 * supervisor and answers on the 'disconnect' event, after the worker's own
 * listener (registered at its start) has begun stop() (an orphan's stop: the
 * same stop() as `torpor stop` and a reload run).
 */
import type { Agent } from "node:http";
import { afterEach, expect, it } from "vitest";
import { connectionTo, download, type FaultCluster, namesOwnedBy, startFaultCluster, workerPid } from "./cluster-fault-helpers.ts";

const clusters: FaultCluster[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  for (const c of clusters.splice(0)) await c.stop();
});

it("a streamed answer that starts while its worker stops reaches the caller in another worker whole, on their direct channel", async () => {
  const c = await startFaultCluster(2);
  clusters.push(c);
  const a = workerPid(c.server.child.pid!, 0);
  const [x] = namesOwnedBy(c.data, 1, 1, "d") as [string];
  const get = await connectionTo(c, a, agents);
  // connectionTo leaves the agent whose connection reached A last.
  const viaA = agents.at(-1)!;
  // A learns x's owner: its next call to x goes straight to B, and the answer's body comes on their channel.
  expect((await get(`/rpc/${x}/echo?arg=%220%22`)).status).toBe(200);
  // Many windows (256 KiB each, each granted back through the supervisor once B said bye): more than B's close lasts.
  const total = 16 * 1024 * 1024;
  const outcome = await download(`${c.url}/download/${x}?bytes=${total}&disconnect=1`, viaA, 60_000);
  // What the workers logged about a body they could not finish, to say why when it was cut.
  const cut = c.server
    .stdout()
    .split("\n")
    .filter((line) => line.includes("exited before its end"))
    .map((line) => JSON.parse(line) as { message: string; worker: number; error: { code: string; message: string } })
    .map((l) => `worker ${l.worker}: ${l.message}: ${l.error.code} ${l.error.message}`);
  expect(outcome, cut.join("\n")).toEqual({ status: 200, bytes: total, error: null });
}, 120_000);
