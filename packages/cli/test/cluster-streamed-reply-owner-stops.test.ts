/**
 * A streamed response from an object owned by another worker reaches the
 * client whole when the owner stops while the call runs: in a transparent
 * reload, and in a stop (fault seed 2229088118: 'The worker process
 * streaming this body exited before its end').
 */
import { existsSync, writeFileSync } from "node:fs";
import type { Agent } from "node:http";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { logLine } from "./cluster-helpers.ts";
import { connectionTo, download, type FaultCluster, namesOwnedBy, startFaultCluster, workerPid } from "./cluster-fault-helpers.ts";

const clusters: FaultCluster[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  for (const c of clusters.splice(0)) await c.stop();
});

/** Two workers, an object x of worker B, and a connection to worker A (with its agent, for downloads). */
async function twoWorkers() {
  const c = await startFaultCluster(2);
  clusters.push(c);
  const a = workerPid(c.server.child.pid!, 0);
  const [x] = namesOwnedBy(c.data, 1, 1, "s") as [string];
  const get = await connectionTo(c, a, agents);
  // connectionTo leaves the agent whose connection reached A last.
  return { c, x, get, viaA: agents.at(-1)! };
}

/** What the workers logged about a body they could not finish, to say why when one was cut. */
function cutBodies(c: FaultCluster): string {
  return c.server
    .stdout()
    .split("\n")
    .filter((line) => line.includes("exited before its end"))
    .map((line) => JSON.parse(line) as { message: string; worker: number; error: { code: string; message: string } })
    .map((l) => `worker ${l.worker}: ${l.message}: ${l.error.code} ${l.error.message}`)
    .join("\n");
}

/**
 * A's first call to an object of B goes through the supervisor (A does not know the owner yet), and so does its
 * answer's body. B moves its objects out (waiting for the held call), streams the body, then ends its direct channel
 * to A: the body's last chunks may still be on their way through the supervisor, and that channel's close must not
 * end the streams B sent the other way. Which of the two reaches A first is the kernel's choice, not this test's:
 * without that rule it failed in 8 of 10 runs, not in all.
 */
it("a streamed body from another worker's object, held when a reload begins, reaches the client whole", async () => {
  const { c, x, viaA } = await twoWorkers();
  const started = join(c.dir, "started");
  const release = join(c.dir, "release");
  const total = 4 * 1024 * 1024;
  const path = `/download/${x}?bytes=${total}&started=${encodeURIComponent(started)}&release=${encodeURIComponent(release)}`;
  const reply = download(`${c.url}${path}`, viaA, 90_000);
  await vi.waitFor(
    () => {
      if (!existsSync(started)) throw new Error("the call has not reached the object yet");
    },
    { timeout: 60_000, interval: 50 },
  );
  c.setCode("v2");
  const loaded = [0, 1].map((worker) => logLine(c.server, (l) => l.message === "Worker loaded" && l.worker === worker));
  const reloaded = logLine(c.server, (l) => l.message === "Reloaded" || l.message === "Reload failed; the running workers keep serving");
  c.server.child.kill("SIGHUP");
  await Promise.all(loaded);
  // The new workers are ready: the old ones are asked to move their objects out (B waits for the held call).
  writeFileSync(release, "");
  const outcome = await reply;
  expect(outcome, cutBodies(c)).toEqual({ status: 200, bytes: total, error: null });
  expect(cutBodies(c)).toBe("");
  expect((await reloaded).message).toBe("Reloaded");
}, 180_000);

/**
 * The call is running when B's stop() begins, so stop()'s first wait for body streams finds none; the object answers
 * while B closes, and its body streams on the direct channel during close: B must not end the channel before it ends.
 * No timing decides the order: the object disconnects its own worker from the supervisor and answers on the
 * 'disconnect' event, after B's listener (registered at its start) began stop() (an orphan's stop, the stop() of
 * `torpor stop` and of a reload too). A reload does not get here: B's move waits for the call before B is told to stop.
 */
it("a streamed answer that starts while its worker stops reaches the caller in another worker whole, on their direct channel", async () => {
  const { c, x, get, viaA } = await twoWorkers();
  // A learns x's owner: its next call to x goes straight to B, and the answer's body comes on their channel.
  expect((await get(`/rpc/${x}/echo?arg=%220%22`)).status).toBe(200);
  // Many windows (256 KiB each, each granted back through the supervisor once B said bye): more than B's close lasts.
  const total = 16 * 1024 * 1024;
  const outcome = await download(`${c.url}/download/${x}?bytes=${total}&disconnect=1`, viaA, 60_000);
  expect(outcome, cutBodies(c)).toEqual({ status: 200, bytes: total, error: null });
}, 120_000);
