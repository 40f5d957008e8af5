/**
 * Supervisor ↔ worker messages that carry no descriptor travel on a control
 * channel of their own (control-channel.ts), not behind passed sockets: Node's
 * IPC sends nothing after a passed handle until the receiver acknowledged it,
 * so on IPC a routed call waited for every connection handed to its workers
 * before it. What must still follow the sockets does: a call after a reload
 * sees every WebSocket its object had.
 */
import { expect, it } from "vitest";
import { WebSocket } from "ws";
import { faultClustersPerTest, namesOwnedBy, workerPid } from "./cluster-fault-helpers.ts";
import { logLine } from "./cluster-helpers.ts";

const { start, connectionTo } = faultClustersPerTest();

/** Connections opened at once (below the listen backlog of 511, so none waits for a SYN retransmission). */
const BURST = 400;

it("a call routed through the supervisor is answered while a burst of connections is still being handed to the workers", async () => {
  const c = await start(2);
  const supervisor = c.server.child.pid!;
  const a = workerPid(supervisor, 0);
  const b = workerPid(supervisor, 1);
  // Each in a slot of its own: A has not learned their owner, so each first call goes through the supervisor.
  const [warm, x] = namesOwnedBy(c.data, 1, 2, "burst") as [string, string];
  const viaA = await connectionTo(c, a);
  expect((await viaA(`/rpc/${warm}/echo?arg=%22w%22`)).status).toBe(200);
  // x runs already (called in B itself, so A still does not know where): the routed call below costs no activation.
  expect((await (await connectionTo(c, b))(`/rpc/${x}/echo?arg=%22w%22`)).body.value.pid).toBe(b);
  let answered = 0;
  const burst = Array.from({ length: BURST }, () => c.open("/pid", 240_000));
  for (const b of burst)
    void b.reply.then(
      () => answered++,
      () => {},
    );
  // Every connection is in the supervisor's accept queue: from here it hands each to a worker, one acknowledged at a time.
  await Promise.all(burst.map((b) => b.connected));
  const started = performance.now();
  const routed = await viaA(`/rpc/${x}/echo?arg=%22x%22`, 240_000);
  const answeredBefore = answered;
  const routedMs = performance.now() - started;
  const replies = await Promise.all(burst.map((r) => r.reply));
  const figures = JSON.stringify({ routedMs: Math.round(routedMs), burstMs: Math.round(performance.now() - started), answeredBefore, burst: BURST });
  expect(routed.status).toBe(200);
  expect(routed.body.value.pid).toBe(b);
  expect(replies.every((r) => r.status === 200)).toBe(true);
  // Behind the handles, the call is answered only once (nearly) every connection was handed over and answered.
  expect(answeredBefore, figures).toBeLessThan(BURST / 2);
}, 300_000);

/** Hibernatable WebSockets to one object. */
const SOCKETS = 200;

it("after a reload, a call to a moved object sees every WebSocket it had: its sockets are adopted before its slot is served", async () => {
  const c = await start(2);
  const [x] = namesOwnedBy(c.data, 1, 1, "moved") as [string];
  const sockets = await Promise.all(
    Array.from(
      { length: SOCKETS },
      (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${c.url.replace("http", "ws")}/ws/${x}?id=p${i}`);
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
  try {
    expect((await c.rpc(x, "sockets")).body.value.count).toBe(SOCKETS);
    c.setCode("v2");
    const reloaded = logLine(c.server, (l) => l.message === "Reloaded");
    c.server.child.kill("SIGHUP");
    // Calls one after another on fresh connections: those sent while x moves wait in the supervisor and reach the new
    // worker together with its slot. Each answered by v2 must count every socket.
    const seen: Array<{ count: number; version: string }> = [];
    while (seen.at(-1)?.version !== "v2") {
      const reply = await c.rpc(x, "sockets", undefined, 120_000);
      expect(reply.status).toBe(200);
      seen.push(reply.body.value);
    }
    await reloaded;
    expect(seen.filter((s) => s.version === "v2" && s.count !== SOCKETS)).toEqual([]);
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}, 300_000);
