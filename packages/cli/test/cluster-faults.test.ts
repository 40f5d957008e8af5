/**
 * Cluster fault paths (issue 20), each with real processes: replies reach the
 * process that asked, a new worker that dies after it said ready is never
 * installed, a reload keeps in-flight HTTP, a long event holds back only its
 * own object and only until the move deadline, and an upgrade caught by a
 * reload leaves no ghost in the object's participant list.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, vi } from "vitest";
import { logLine } from "./cluster-helpers.ts";
import { type FaultCluster, faultClustersPerTest, namesOwnedBy, workerPid } from "./cluster-fault-helpers.ts";
import { runTorpor } from "./helpers.ts";

const { start } = faultClustersPerTest();

/**
 * Sends `path` on a connection that the supervisor gives to worker `pid` (it alternates connections between
 * the two workers); resolves once that connection is up, with its reply to come.
 */
async function sendThrough(c: FaultCluster, pid: number, path: string, deadlineMs?: number): Promise<{ reply: Promise<{ status: number; body: any }> }> {
  for (let i = 0; i < 4; i++) {
    const probe = await c.get("/pid");
    if (probe.body.pid === pid) continue;
    const { connected, reply } = c.open(path, deadlineMs);
    await connected;
    return { reply };
  }
  throw new Error(`worker ${pid} gets no connections`);
}

async function through(c: FaultCluster, pid: number, path: string, deadlineMs?: number): Promise<{ status: number; body: any }> {
  return (await sendThrough(c, pid, path, deadlineMs)).reply;
}

/** Waits until `poll` is true (polling with a deadline, never a fixed sleep). */
async function until(poll: () => Promise<boolean>, timeout = 60_000): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await poll())) throw new Error("not yet");
    },
    { timeout, interval: 100 },
  );
}

it("a reply goes to the process that made the call: a restarted worker at the same index never gets its predecessor's answers", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const b = workerPid(supervisor, 1);
  const [x] = namesOwnedBy(c.data, 1, 1, "x");
  // The first routed call of A: call id 1 in A.
  const first = (await sendThrough(c, a, `/rpc/${x}/wait?arg=${encodeURIComponent('"t1"')}`)).reply.catch((error: Error) => ({
    status: 0,
    body: error.message,
  }));
  await until(async () => (await through(c, b, `/rpc/${x}/busy`)).body.value === 1);
  process.kill(a, "SIGKILL");
  expect((await first).status).not.toBe(200);
  // The restarted process serves once it answers a connection of its own.
  let a2 = 0;
  await until(async () => {
    try {
      a2 = workerPid(supervisor, 0);
      if (a2 === a) return false;
      const [one, two] = [await c.get("/pid"), await c.get("/pid")];
      return one.body.pid === a2 || two.body.pid === a2;
    } catch {
      return false;
    }
  });
  // The first routed call of the restarted process: call id 1 again, in flight when the old call's answer comes.
  const second = (await sendThrough(c, a2, `/rpc/${x}/wait?arg=${encodeURIComponent('"t2"')}`)).reply;
  await until(async () => (await through(c, b, `/rpc/${x}/busy`)).body.value === 2);
  expect((await through(c, b, `/rpc/${x}/release?arg=${encodeURIComponent('"t1"')}`)).body.value).toBe(true);
  expect((await through(c, b, `/rpc/${x}/release?arg=${encodeURIComponent('"t2"')}`)).body.value).toBe(true);
  const answer = await second;
  expect(answer.status).toBe(200);
  // Through the restarted process (a routed call), answered with its own call's result.
  expect(answer.body.via).toBe(a2);
  expect(answer.body.value.tag).toBe("t2");
}, 180_000);

it("a new worker that dies right after it said ready is never installed: the reload fails and the old workers keep serving every object", async () => {
  const c = await start(2);
  const names = [...namesOwnedBy(c.data, 0, 3, "p"), ...namesOwnedBy(c.data, 1, 3, "q")];
  for (const name of names) expect((await c.rpc(name, "echo", name)).body.value.version).toBe("v1");
  // Worker 1 of the new code exits 50 ms after it reports ready; worker 0 finishes loading only after that (plus a
  // margin), so the supervisor is still waiting for it when worker 1 is gone.
  const gone = join(c.dir, "worker-1-gone");
  c.setCode(
    "v2",
    `
const fs = process.getBuiltinModule("node:fs");
if (process.env.TORPOR_CLUSTER_WORKER === "0") {
  const until = Date.now() + 60000;
  while (!fs.existsSync(${JSON.stringify(gone)}) && Date.now() < until);
  const margin = Date.now() + 500;
  while (Date.now() < margin);
}
if (process.env.TORPOR_CLUSTER_WORKER === "1") {
  const send = process.send.bind(process);
  process.send = (message, ...rest) => {
    if (message?.t === "ready") setTimeout(() => process.exit(71), 50);
    return send(message, ...rest);
  };
  process.on("exit", () => fs.writeFileSync(${JSON.stringify(gone)}, ""));
}`,
  );
  const reload = await runTorpor(["reload", "--persist-to", c.data], c.dir);
  expect(reload.code).toBe(1);
  expect(reload.stderr).toMatch(/Reload failed, the old workers keep serving: .*(exited \(71\)|exited right after)/);
  for (const name of names) {
    const r = await c.rpc(name, "echo", name, 20_000);
    expect(r.status, name).toBe(200);
    expect(r.body.value.version, name).toBe("v1");
  }
}, 180_000);

it("a reload keeps in-flight HTTP: a request the old worker is still handling (in Worker code, or waiting for a routed reply) gets its answer", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const [y] = namesOwnedBy(c.data, 1, 1, "y");
  const inWorker = join(c.dir, "release-worker");
  const inObject = join(c.dir, "release-object");
  const held = (await sendThrough(c, a, `/hold?file=${encodeURIComponent(inWorker)}`)).reply;
  const routed = (await sendThrough(c, a, `/rpc/${y}/holdFile?arg=${encodeURIComponent(JSON.stringify(inObject))}`)).reply;
  await until(async () => (await c.rpc(y!, "busy")).body.value === 1);
  c.setCode("v2");
  const loaded = [
    logLine(c.server, (l) => l.message === "Worker loaded" && l.worker === 0),
    logLine(c.server, (l) => l.message === "Worker loaded" && l.worker === 1),
  ];
  c.server.child.kill("SIGHUP");
  await Promise.all(loaded);
  // The new workers are up and the old ones are being replaced: now the routed call may finish.
  writeFileSync(inObject, "");
  await logLine(c.server, (l) => l.message === "Reloaded");
  expect((await c.get("/pid")).body.version).toBe("v2");
  writeFileSync(inWorker, "");
  const [worker, object] = await Promise.all([held, routed]);
  expect(worker.status).toBe(200);
  expect(worker.body.pid).toBe(a);
  expect(object.status).toBe(200);
  expect(object.body.via).toBe(a);
}, 180_000);

it("a long event holds back only its own object's move, and only until --move-timeout-ms; the other objects of its worker answer meanwhile", async () => {
  const c = await start(2, ["--move-timeout-ms", "4000"]);
  const supervisor = c.server.child.pid!;
  const b = workerPid(supervisor, 1);
  const [x, ...others] = namesOwnedBy(c.data, 1, 4, "z");
  const never = join(c.dir, "never");
  const long = c.rpc(x!, "holdFile", never);
  await until(async () => (await through(c, b, `/rpc/${x}/busy`)).body.value === 1);
  c.setCode("v2");
  const reloaded = logLine(c.server, (l) => l.message === "Reloaded" || l.message === "Reload failed; the running workers keep serving");
  c.server.child.kill("SIGHUP");
  // While the long event runs, the other objects of its worker reach the new code.
  await until(async () => {
    const answers = await Promise.all(others.map((n) => c.rpc(n, "echo", n, 20_000)));
    return answers.every((r) => r.status === 200 && r.body.value.version === "v2");
  });
  const outcome = await long;
  // The move deadline passed: the old worker was stopped and the long call ended as in a crash.
  expect(outcome.status).toBe(500);
  expect(outcome.body.error.code).toBe("ERR_OBJECT_OWNER_EXITED");
  expect((await reloaded).message).toBe("Reloaded");
  expect(c.server.stdout()).toContain('"code":"ERR_MOVE_TIMEOUT"');
  expect((await c.rpc(x!, "echo", "after")).body.value.version).toBe("v2");
}, 180_000);

it("an upgrade caught by a reload before its socket arrived ends with webSocketClose: no ghost in the object's participants", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const [room] = namesOwnedBy(c.data, 1, 1, "r");
  // The Worker in A holds the 101 after the object (in B) accepted, until the reload is over: the socket is still in A
  // when the reload moves the room.
  const hold = join(c.dir, "hand-over");
  const { WebSocket } = await import("ws");
  let ws: InstanceType<typeof WebSocket> | null = null;
  for (let i = 0; i < 4 && ws === null; i++) {
    const probe = await c.get("/pid");
    if (probe.body.pid === a) continue;
    ws = new WebSocket(`${c.url.replace("http", "ws")}/ws/${room}?id=ghost&hold=${encodeURIComponent(hold)}`);
  }
  const ended = new Promise<void>((resolve) => {
    ws!.on("error", () => resolve());
    ws!.once("close", () => resolve());
    ws!.once("unexpected-response", () => resolve());
  });
  await until(async () => (await c.rpc(room!, "participants")).body.value?.includes("ghost") === true);
  c.setCode("v2");
  const reloaded = logLine(c.server, (l) => l.message === "Reloaded");
  c.server.child.kill("SIGHUP");
  await reloaded;
  // The object saw the socket closed when it moved; the client's upgrade then finds nobody and is dropped.
  await until(async () => (await c.rpc(room!, "participants")).body.value?.length === 0, 30_000);
  writeFileSync(hold, "");
  await ended;
  expect(ws!.readyState).toBe(WebSocket.CLOSED);
}, 180_000);
