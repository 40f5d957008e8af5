/**
 * Direct channels between workers (issue 23 item 5): once a worker knows which
 * process owns an object, its routed calls go there on their channel, without
 * the supervisor; the fault guarantees stay (a killed owner's calls in flight
 * fail with ERR_OBJECT_OWNER_EXITED; a reload moves the object and the calls
 * follow it, none failing).
 */
import { expect, it, vi } from "vitest";
import { faultClustersPerTest, namesOwnedBy, workerPid } from "./cluster-fault-helpers.ts";

const { start, connectionTo } = faultClustersPerTest();

it("a call to an object whose owner the caller learned goes straight to it: it is answered while the supervisor is stopped", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const [x] = namesOwnedBy(c.data, 1, 1, "x");
  const viaA = await connectionTo(c, a);
  // The first call goes through the supervisor; its answer names the owner.
  const first = await viaA(`/rpc/${x}/echo?arg=%221%22`);
  expect(first.status).toBe(200);
  expect(first.body.via).toBe(a);
  expect(first.body.value.pid).not.toBe(a);
  process.kill(supervisor, "SIGSTOP");
  try {
    const second = await viaA(`/rpc/${x}/echo?arg=%222%22`, 15_000);
    expect(second.status).toBe(200);
    expect(second.body.value).toEqual({ tag: "2", pid: first.body.value.pid, version: "v1" });
  } finally {
    process.kill(supervisor, "SIGCONT");
  }
}, 180_000);

it("a direct call in flight when its owner is killed fails with ERR_OBJECT_OWNER_EXITED; the next call reaches the restarted owner", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const b = workerPid(supervisor, 1);
  const [x] = namesOwnedBy(c.data, 1, 1, "k") as [string];
  const viaA = await connectionTo(c, a);
  expect((await viaA(`/rpc/${x}/echo?arg=%221%22`)).body.value.pid).toBe(b);
  // Held open in the owner until it dies.
  const held = viaA(`/rpc/${x}/wait?arg=%22t%22`);
  await vi.waitFor(
    async () => {
      if ((await c.rpc(x, "busy")).body.value !== 1) throw new Error("not yet");
    },
    { timeout: 30_000, interval: 100 },
  );
  process.kill(b, "SIGKILL");
  const failed = await held;
  expect(failed.status).toBe(500);
  expect(failed.body.error).toMatchObject({ class: "TorporError", code: "ERR_OBJECT_OWNER_EXITED" });
  // A direct caller sees only its channel close: no exit code to name.
  expect(failed.body.error.message).toMatch(/^The worker process hosting this object exited before answering; /);
  const again = await viaA(`/rpc/${x}/echo?arg=%222%22`);
  expect(again.status).toBe(200);
  expect(again.body.value.pid).not.toBe(b);
}, 180_000);

it("calls going straight to an owner during a reload follow the object to the new worker: none fails, each answered once", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const names = namesOwnedBy(c.data, 1, 4, "r");
  const viaA = await connectionTo(c, a);
  for (const name of names) expect((await viaA(`/rpc/${name}/echo?arg=%220%22`)).status).toBe(200);
  c.setCode("v2");
  let stop = false;
  const seen: Array<{ status: number; body: any }> = [];
  // One request at a time (on A's connection while A serves), round robin over the objects, until the reload is over
  // and v2 answered. A keep-alive connection the retiring worker closed between two requests is opened again.
  const traffic = (async () => {
    for (let i = 1; !stop || seen.at(-1)?.body.value?.version !== "v2"; ) {
      try {
        seen.push(await viaA(`/rpc/${names[i % names.length]}/echo?arg=%22${i}%22`, 60_000));
        i++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ECONNRESET") throw error;
      }
    }
  })();
  const reloaded = new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('"Reloaded"')) {
        c.server.child.stdout!.off("data", onData);
        resolve();
      }
    };
    c.server.child.stdout!.on("data", onData);
  });
  c.server.child.kill("SIGHUP");
  await reloaded;
  stop = true;
  await traffic;
  expect(seen.filter((r) => r.status !== 200)).toEqual([]);
  for (const [i, r] of seen.entries()) expect(r.body.value.tag).toBe(String(i + 1));
  expect(seen.at(-1)!.body.value.version).toBe("v2");
}, 240_000);
