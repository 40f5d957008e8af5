/** The checker on hand-made histories: each kind of anomaly is found, and a clean history passes. */
import { describe, expect, it } from "vitest";
import { check, type StoredObject, type StoredState } from "./checker.ts";
import { History } from "./history.ts";
import { Random } from "./random.ts";
import { subjectModel } from "./workload.ts";

function stored(objects: Record<string, Partial<StoredObject>>): StoredState {
  return new Map(Object.entries(objects).map(([name, o]) => [name, { writes: new Set(), events: [], alarmsFired: new Map(), ...o }]));
}

const kinds = (history: History, state: StoredState, end = history.now()) => check(history, state, subjectModel, { end }).map((a) => a.kind);

describe("checker", () => {
  it("passes a clean history: acknowledged writes stored, right answers, one incarnation at a time, every echo in order", () => {
    const h = new History();
    const put = h.invoke("c", "kv", "o1", "v1", 1_000);
    h.complete(put, "ok", { value: { op: put.id, value: "v1" } });
    const echo = h.invoke("c", "echo", "o1", "abc", 1_000);
    h.complete(echo, "ok", { value: { op: echo.id, value: "cba" } });
    // A failed write need not be stored; a failure inside a fault's window is excused.
    const end = h.fault("kill-worker");
    const failed = h.invoke("c", "sql", "o1", "v2", 1_000);
    h.complete(failed, "error", { error: { message: "socket hang up" } });
    end();
    const ws = h.session("w", "o1");
    ws.opened = 1;
    ws.sent = 3;
    ws.received = [0, 1, 2];
    ws.closed = { at: 2, code: 1000, reason: "done", byClient: true };
    const events = [
      { seq: 1, incarnation: "a", pid: 1, what: "construct" },
      { seq: 2, incarnation: "a", pid: 1, what: "kv" },
      { seq: 3, incarnation: "b", pid: 2, what: "construct" },
    ];
    expect(kinds(h, stored({ o1: { writes: new Set([put.id]), events } }))).toEqual([]);
  });

  it("finds an acknowledged write that is not stored", () => {
    const h = new History();
    const put = h.invoke("c", "sql", "o1", "v1", 1_000);
    h.complete(put, "ok", { value: { op: put.id, value: "v1" } });
    expect(kinds(h, stored({ o1: {} }))).toEqual(["lost-write"]);
  });

  it("finds an answer that belongs to another request", () => {
    const h = new History();
    const a = h.invoke("c", "echo", "o1", "abc", 1_000);
    const b = h.invoke("c", "sleep", "o2", 500, 1_000);
    h.complete(a, "ok", { value: { op: b.id, value: 500 } });
    h.complete(b, "ok", { value: { op: b.id, value: 500 } });
    expect(kinds(h, stored({}))).toEqual(["wrong-reply"]);
  });

  it("finds a call that neither answered nor failed within its deadline", () => {
    const h = new History();
    const a = h.invoke("c", "echo", "o1", "abc", 1_000);
    h.complete(a, "timeout");
    h.invoke("c", "echo", "o1", "abc", 1_000);
    expect(kinds(h, stored({}))).toEqual(["hang", "hang"]);
  });

  it("finds two incarnations whose events interleave", () => {
    const events = [
      { seq: 1, incarnation: "a", pid: 1, what: "construct" },
      { seq: 2, incarnation: "b", pid: 2, what: "construct" },
      { seq: 3, incarnation: "a", pid: 1, what: "woke" },
    ];
    expect(kinds(new History(), stored({ o1: { events } }))).toEqual(["two-instances"]);
  });

  it("finds a WebSocket message lost in the middle, one reordered, and a tail lost on a connection that stayed open", () => {
    const h = new History();
    const sessions = [
      { received: [0, 2, 3], sent: 4, byClient: false },
      { received: [0, 2, 1], sent: 3, byClient: false },
      { received: [0, 1], sent: 3, byClient: true },
      // Closed by a fault with its tail in flight: fine.
      { received: [0, 1], sent: 3, byClient: false },
    ];
    const end = h.fault("kill-worker");
    for (const s of sessions) {
      const session = h.session("w", "o1");
      session.opened = 0;
      session.sent = s.sent;
      session.received = s.received;
      session.closed = { at: h.now(), code: s.byClient ? 1000 : 1006, reason: "", byClient: s.byClient };
    }
    end();
    expect(kinds(h, stored({}))).toEqual(["ws-lost", "ws-reordered", "ws-lost"]);
  });

  it("finds an error or a close with no fault to excuse it, also during a reload marked transparent", () => {
    const h = new History();
    const end = h.fault("reload", { transparent: true });
    const op = h.invoke("c", "kv", "o1", "v", 1_000);
    h.complete(op, "error", { error: { message: "socket hang up" } });
    const session = h.session("w", "o1");
    session.opened = 0;
    session.closed = { at: h.now(), code: 1006, reason: "", byClient: false };
    end();
    expect(kinds(h, stored({}))).toEqual(["unexpected-error", "unexpected-close"]);
  });

  it("finds an acknowledged alarm that never ran, and reports live observations", () => {
    const h = new History();
    const arm = h.invoke("c", "arm", "a0", { at: 0, due: 0 }, 1_000);
    h.complete(arm, "ok", { value: { op: arm.id, value: 0 } });
    h.observe("orphan-alive", { pid: 42 });
    expect(kinds(h, stored({ a0: {} }), 60_000)).toEqual(["alarm-lost", "orphan-alive"]);
    expect(kinds(h, stored({ a0: { alarmsFired: new Map([[arm.id, 1]]) } }), 60_000)).toEqual(["orphan-alive"]);
  });

  it("finds a streamed answer that arrived buffered", () => {
    const h = new History();
    const op = h.invoke("c", "stream", "o1", 5, 1_000);
    h.complete(op, "ok", { value: { op: op.id, chunks: 5, streamed: false } });
    expect(kinds(h, stored({}))).toEqual(["not-streamed"]);
  });
});

describe("Random", () => {
  it("gives the same choices for the same seed, and others for another", () => {
    const draw = (seed: number) => {
      const rng = new Random(seed);
      return Array.from({ length: 8 }, () => rng.int(0, 1_000_000));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });
});
