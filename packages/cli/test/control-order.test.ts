/**
 * The worker's ordering of control messages against Node IPC (control-channel.ts): a control message waits for the
 * IPC messages its `after` names, and what follows it waits too; `fence` never waits.
 */
import { expect, it } from "vitest";
import { afterFor, afterMovedFor, ControlOrder } from "../src/cluster/control-channel.ts";
import type { ToWorker } from "../src/cluster/ipc.ts";

function recorder(): { order: ControlOrder; seen: string[] } {
  const order = new ControlOrder();
  const seen: string[] = [];
  order.start((m) => seen.push(m.t === "call" ? `call ${m.rid}` : m.t));
  return { order, seen };
}

const call = (rid: number): ToWorker => ({ t: "call", rid, from: 1, key: { namespace: "N", id: "0".repeat(64) }, op: "read", property: "p" });

it("a control message without `after` is handled at once", () => {
  const { order, seen } = recorder();
  order.control(call(1));
  expect(seen).toEqual(["call 1"]);
});

it("an acquire waits for the IPC messages it follows, and the calls behind it wait with it", () => {
  const { order, seen } = recorder();
  // init was IPC message 1; the moved sockets are 2 and 3.
  order.control({ t: "acquire", slots: [7], after: 3 });
  order.control(call(1));
  expect(seen).toEqual([]);
  order.ipcHandled();
  expect(seen).toEqual([]);
  order.ipcHandled();
  expect(seen).toEqual(["acquire", "call 1"]);
  expect(order.waiting).toBe(0);
});

it("fence overtakes what waits", () => {
  const { order, seen } = recorder();
  order.control({ t: "drain", rid: 1, slots: [1], after: 5 });
  order.control({ t: "fence", reason: "lease" });
  expect(seen).toEqual(["fence"]);
  expect(order.waiting).toBe(1);
});

it("nothing is handled before start, then everything in order", () => {
  const order = new ControlOrder();
  const seen: string[] = [];
  order.control({ t: "table", table: { slots: [], deadline: 0 } } as unknown as ToWorker);
  order.control({ t: "fence", reason: "lease" });
  order.start((m) => seen.push(m.t));
  expect(seen).toEqual(["table", "fence"]);
});

it("what must follow descriptors is stamped: moves and hand-overs after the objects' sockets, stop after every IPC message", () => {
  expect(afterFor({ t: "acquire", slots: [1] }, 10, 4)).toBe(4);
  expect(afterFor({ t: "release", socketDrainMs: 1 }, 10, 4)).toBe(4);
  expect(afterFor({ t: "drain", rid: 1, slots: [1] }, 10, 4)).toBe(4);
  expect(afterFor({ t: "stop", deadlineMs: 1 }, 10, 4)).toBe(10);
  expect(afterFor(call(1), 10, 4)).toBe(0);
  expect(afterFor({ t: "fence", reason: "x" }, 10, 4)).toBe(0);
});

it("an acquire after a batched move waits for the descriptor channel's messages too (and for IPC's), and what follows waits with it", () => {
  const { order, seen } = recorder();
  // Two batches of moved sockets on the descriptor channel, and an upgrade's socket on IPC (message 2).
  order.control({ t: "acquire", slots: [7], after: 2, afterMoved: 2 });
  order.control(call(1));
  order.movedHandled();
  order.ipcHandled();
  expect(seen).toEqual([]);
  order.movedHandled();
  expect(seen).toEqual(["acquire", "call 1"]);
});

it("what must follow a batched move is stamped with the descriptor channel's count; routed calls and fence are not", () => {
  expect(afterMovedFor({ t: "acquire", slots: [1] }, 3)).toBe(3);
  expect(afterMovedFor({ t: "moved-in", rid: 1 }, 3)).toBe(3);
  expect(afterMovedFor({ t: "stop", deadlineMs: 1 }, 3)).toBe(3);
  expect(afterMovedFor(call(1), 3)).toBe(0);
  expect(afterMovedFor({ t: "fence", reason: "x" }, 3)).toBe(0);
});
