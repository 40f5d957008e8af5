/**
 * A streamed response from an object owned by another worker reaches the
 * client whole across a transparent reload (fault seed 2229088118: a stream
 * cut by a reload, 'The worker process streaming this body exited before its
 * end').
 *
 * Worker A's first call to an object of worker B goes through the supervisor
 * (A does not know the owner yet), and so does its reply's body. On a reload
 * B moves its objects out (waiting for the held call), streams the body while
 * it stops, then ends its direct channel to A: the body's last chunks may still
 * be on their way through the supervisor, and the channel's close must not end
 * the streams B sent that way.
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

it("a streamed body from another worker's object, held when a reload begins, reaches the client whole", async () => {
  const c = await startFaultCluster(2);
  clusters.push(c);
  const a = workerPid(c.server.child.pid!, 0);
  const [x] = namesOwnedBy(c.data, 1, 1, "r") as [string];
  // connectionTo leaves the agent whose connection reached A last.
  await connectionTo(c, a, agents);
  const viaA = agents.at(-1)!;
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
  // What the workers logged about a body they could not finish, to say why when it was cut.
  const cut = c.server
    .stdout()
    .split("\n")
    .filter((line) => line.includes("exited before its end"))
    .map((line) => JSON.parse(line) as { message: string; worker: number; error: { code: string; message: string } })
    .map((l) => `worker ${l.worker}: ${l.message}: ${l.error.code} ${l.error.message}`);
  expect(outcome, cut.join("\n")).toEqual({ status: 200, bytes: total, error: null });
  expect(cut).toEqual([]);
  expect((await reloaded).message).toBe("Reloaded");
}, 180_000);
