/**
 * The checker: reads a run's history and what the system stored (read back
 * after the run, from the data itself), and lists every anomaly:
 *
 * - `lost-write`: a write the system acknowledged is not in the stored data;
 * - `wrong-reply`: an answer that is not the answer to its request (every
 *   request carries a unique id and its correct answer follows from it);
 * - `hang`: a call that neither answered nor failed within its deadline;
 * - `two-instances`: an object ran in two incarnations at once (each event an
 *   object runs is committed in its own storage with the incarnation that ran
 *   it; the commit order of two incarnations' events must not interleave);
 * - `ws-lost` / `ws-reordered`: on a WebSocket, an echo missing or out of
 *   order (a connection that closed may lose its tail, never a middle part;
 *   one that stayed open to the end loses nothing);
 * - `alarm-lost`: an acknowledged alarm whose time came did not run;
 * - `unexpected-error`: a call failed although no fault that may fail calls
 *   was under way or recently over (a reload is a deploy clients must not
 *   notice: faults marked `transparent` do not excuse errors), or a
 *   WebSocket closed by the server at such a time (`unexpected-close`);
 * - every observation recorded live (for example `orphan-alive`: a process of
 *   an old instance still running after a new one took the data directory).
 *
 * The checker knows nothing of Torpor: a `Model` says which operations write
 * and what each correct answer is, and `StoredState` is whatever the harness
 * read back (SQLite files here; PostgreSQL rows for several nodes).
 */
import { isDeepStrictEqual } from "node:util";
import type { History, Operation, Session } from "./history.ts";

/** What the checker needs to know about the operations of a workload. */
export interface Model {
  /** True when an acknowledged `op` must leave `op.id` in the object's stored writes. */
  isWrite(op: Operation): boolean;
  /** The only correct value of an acknowledged `op` (compared deeply), or `undefined` to accept any. */
  expected(op: Operation): unknown;
  /** For an alarm-arming `op`: when it is due (ms since the run started); `undefined` for other kinds. */
  alarmDue?(op: Operation): number | undefined;
  /** Checks of its own for a completed `op` (beyond the expected value). */
  verify?(op: Operation): Anomaly[];
}

/** One event an object ran, as its own storage recorded it. */
export interface StoredEvent {
  /** Commit order within the object (a row id). */
  seq: number;
  /** Which instance ran it (unique per construction). */
  incarnation: string;
  pid: number;
  what: string;
}

/** What one object holds after the run. */
export interface StoredObject {
  /** Ids of the writes it holds. */
  writes: Set<string>;
  events: StoredEvent[];
  /** Alarm operations that ran, with how often. */
  alarmsFired: Map<string, number>;
}

/** Everything read back after the run, by object name. */
export type StoredState = Map<string, StoredObject>;

/** One problem found. */
export interface Anomaly {
  kind: string;
  message: string;
  detail?: unknown;
}

/** Options of a check. */
export interface CheckOptions {
  /** When the run's history ended (ms since start): alarms due before `end - alarmGraceMs` must have run. */
  end: number;
  alarmGraceMs?: number;
  /** How long after a fault that may fail calls errors are still excused (default 15 s: a restart's time). */
  settleMs?: number;
}

/** Lists every anomaly of a run (empty: the run passed). */
export function check(history: History, stored: StoredState, model: Model, options: CheckOptions): Anomaly[] {
  const anomalies: Anomaly[] = [];
  // Windows in which a failed call is excused: a non-transparent fault, and the time to recover from it.
  const settle = options.settleMs ?? 15_000;
  const excused = history.faults.filter((f) => f.detail.transparent !== true).map((f) => [f.start, (f.end ?? options.end) + settle] as const);
  for (const op of history.operations) {
    anomalies.push(...checkOperation(op, stored, model, options));
    if (op.outcome === "error" && !excused.some(([from, to]) => op.start <= to && (op.end ?? options.end) >= from)) {
      anomalies.push({ kind: "unexpected-error", message: `${describe(op)} failed with no fault to excuse it: ${JSON.stringify(op.error)}`, detail: op });
    }
  }
  for (const session of history.sessions) {
    anomalies.push(...checkSession(session));
    const closed = session.closed;
    if (closed !== null && !closed.byClient && session.opened !== null && !excused.some(([from, to]) => closed.at >= from && closed.at <= to)) {
      anomalies.push({
        kind: "unexpected-close",
        message: `WebSocket ${session.id} to ${session.object} closed (${closed.code} ${closed.reason}) at ${closed.at} ms with no fault to excuse it`,
        detail: session,
      });
    }
  }
  for (const [name, object] of stored) anomalies.push(...checkIncarnations(name, object));
  for (const o of history.observations) anomalies.push({ kind: o.kind, message: `${o.kind} at ${o.at} ms: ${JSON.stringify(o.detail)}`, detail: o.detail });
  return anomalies;
}

function describe(op: Operation): string {
  return `${op.kind} ${op.id} on ${op.object} by ${op.client} at ${op.start} ms`;
}

function checkOperation(op: Operation, stored: StoredState, model: Model, options: CheckOptions): Anomaly[] {
  if (op.outcome === undefined || op.outcome === "timeout") {
    return [{ kind: "hang", message: `${describe(op)}: no answer and no error within ${op.deadlineMs} ms`, detail: op }];
  }
  if (op.outcome !== "ok") return [];
  const found: Anomaly[] = [];
  const expected = model.expected(op);
  if (expected !== undefined && !isDeepStrictEqual(op.value, expected)) {
    found.push({ kind: "wrong-reply", message: `${describe(op)} answered ${JSON.stringify(op.value)}, expected ${JSON.stringify(expected)}`, detail: op });
  }
  if (model.isWrite(op) && stored.get(op.object)?.writes.has(op.id) !== true) {
    found.push({ kind: "lost-write", message: `${describe(op)} was acknowledged (at ${op.end} ms) but is not stored`, detail: op });
  }
  found.push(...(model.verify?.(op) ?? []));
  const due = model.alarmDue?.(op);
  if (due !== undefined && due < options.end - (options.alarmGraceMs ?? 5_000) && (stored.get(op.object)?.alarmsFired.get(op.id) ?? 0) === 0) {
    found.push({ kind: "alarm-lost", message: `${describe(op)} was due at ${due} ms and never ran`, detail: op });
  }
  return found;
}

function checkSession(session: Session): Anomaly[] {
  const where = `WebSocket ${session.id} to ${session.object} by ${session.client}`;
  for (let i = 0; i < session.received.length; i++) {
    const seq = session.received[i]!;
    if (seq === i) continue;
    const kind = session.received.includes(i) ? "ws-reordered" : "ws-lost";
    return [
      { kind, message: `${where}: echo #${i} was ${seq} (received ${JSON.stringify(session.received.slice(Math.max(0, i - 3), i + 3))})`, detail: session },
    ];
  }
  if (session.closed?.byClient === true && session.received.length !== session.sent) {
    return [
      {
        kind: "ws-lost",
        message: `${where} stayed open to the end: ${session.sent} messages sent, ${session.received.length} echoed`,
        detail: session,
      },
    ];
  }
  return [];
}

/** Two incarnations whose events interleave in commit order ran at the same time. */
function checkIncarnations(name: string, object: StoredObject): Anomaly[] {
  const ranges = new Map<string, { first: number; last: number; pid: number }>();
  for (const e of object.events) {
    const r = ranges.get(e.incarnation);
    if (r === undefined) ranges.set(e.incarnation, { first: e.seq, last: e.seq, pid: e.pid });
    else {
      r.first = Math.min(r.first, e.seq);
      r.last = Math.max(r.last, e.seq);
    }
  }
  const sorted = [...ranges.entries()].sort((a, b) => a[1].first - b[1].first);
  const found: Anomaly[] = [];
  // The incarnation that ran latest so far: any later one must start after its last event.
  let latest = sorted[0];
  for (let i = 1; i < sorted.length; i++) {
    const [prevInc, prev] = latest!;
    const [inc, r] = sorted[i]!;
    if (r.last > prev.last) latest = sorted[i];
    if (r.first < prev.last) {
      found.push({
        kind: "two-instances",
        message: `${name}: incarnation ${inc} (pid ${r.pid}) ran events ${r.first}–${r.last} while ${prevInc} (pid ${prev.pid}) ran ${prev.first}–${prev.last}`,
        detail: object.events.filter((e) => e.seq >= r.first && e.seq <= prev.last),
      });
    }
  }
  return found;
}
