/**
 * A worker whose supervisor died while the worker was busy sees the IPC
 * channel close only on its next event-loop turn: a reply it sends before
 * that fails with EPIPE. That failure must not take the worker down: it
 * finishes what it has in flight (a request on its own client connection)
 * and exits on its own, as an orphan does.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, vi } from "vitest";
import { alive, faultClustersPerTest, namesOwnedBy, workerPid } from "./cluster-fault-helpers.ts";

const { start, connectionTo, afterTest } = faultClustersPerTest();

it("a worker replying over IPC to a supervisor that just died (EPIPE) is not taken down: its in-flight request is answered, then it exits", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const b = workerPid(supervisor, 1);
  for (const pid of [a, b]) afterTest(() => alive(pid) && process.kill(pid, "SIGKILL"));
  const [x] = namesOwnedBy(c.data, 1, 1, "e") as [string];
  const started = join(c.dir, "spinning");
  const release = join(c.dir, "release");
  const viaA = await connectionTo(c, a);
  const viaB = await connectionTo(c, b);
  // x runs in B before the call under test, so nothing of its start (storage) is left to await between its handler's
  // end and B's reply: the reply is B's next write, in the same turn of its event loop.
  expect((await viaB(`/rpc/${x}/echo?arg=%220%22`)).body.value.pid).toBe(b);
  // In flight in B's Worker code until the release file exists.
  const held = viaB(`/hold?file=${encodeURIComponent(release)}`, 120_000);
  // A's first call to x goes through the supervisor; x's owner B blocks its event loop on it.
  const spin = viaA(`/rpc/${x}/spinUntil?arg=${encodeURIComponent(JSON.stringify({ started, release }))}`, 120_000).catch((error: Error) => error);
  await vi.waitFor(
    () => {
      if (!existsSync(started)) throw new Error("B is not spinning yet");
    },
    { timeout: 60_000, interval: 50 },
  );
  // Its 'exit' comes once all its threads ended, so its end of every IPC channel is closed (a zombie leader may still
  // have threads holding them).
  const exited = new Promise((resolve) => c.server.child.once("exit", resolve));
  process.kill(supervisor, "SIGKILL");
  await exited;
  // B's reply to the routed call is its first write after the channel's peer is gone.
  writeFileSync(release, "");
  const answer = await held.catch((error: Error) => error);
  expect(answer).toEqual({ status: 200, body: { held: true, pid: b } });
  await spin;
  await vi.waitFor(
    () => {
      if (alive(a) || alive(b)) throw new Error("a worker still runs");
    },
    { timeout: 60_000, interval: 100 },
  );
  expect(c.server.stderr() + c.server.stdout()).not.toContain("EPIPE");
}, 240_000);
