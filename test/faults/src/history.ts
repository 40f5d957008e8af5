/**
 * The history of one fault-schedule run: every operation a client invoked
 * (with its unique id, its deadline and how it completed), every WebSocket
 * session (what was sent and what came back, in order), every fault the
 * nemesis injected, and anything a live observer noticed (an old process
 * still running when a new instance took the data directory). The checker
 * reads it afterwards; on a failed run it is written out as JSON lines so
 * the run can be studied.
 */
import { writeFileSync } from "node:fs";

/** How an operation ended. `error` may or may not have taken effect; `timeout` is a call that neither answered nor failed within its deadline. */
export type Outcome = "ok" | "error" | "timeout";

/** One client request. */
export interface Operation {
  /** Unique in the run; sent to the server, which must echo it in its answer. */
  readonly id: string;
  readonly client: string;
  /** What was asked (the model of the system under test knows each kind). */
  readonly kind: string;
  /** The object (or key) it was about. */
  readonly object: string;
  readonly args: unknown;
  /** ms since the run started. */
  readonly start: number;
  /** How long it may take before it counts as a hang. */
  readonly deadlineMs: number;
  end?: number;
  outcome?: Outcome;
  value?: unknown;
  error?: { status?: number; code?: string; message: string };
}

/** One WebSocket connection of a client. */
export interface Session {
  readonly id: string;
  readonly client: string;
  readonly object: string;
  readonly start: number;
  opened: number | null;
  /** Messages sent (numbered 0, 1, 2 … on this connection). */
  sent: number;
  /** Sequence numbers of the echoes received, in arrival order. */
  received: number[];
  /** Set when the connection ended; `byClient` when the client closed it (after draining) at the end of the run. */
  closed: { at: number; code: number; reason: string; byClient: boolean } | null;
}

/** A fault the nemesis injected. */
export interface FaultRecord {
  readonly name: string;
  readonly start: number;
  end?: number;
  detail: Record<string, unknown>;
}

/** Something noticed while the run went on that is an anomaly by itself. */
export interface Observation {
  readonly kind: string;
  readonly at: number;
  readonly detail: Record<string, unknown>;
}

/** Collects what happened during a run. */
export class History {
  readonly started = Date.now();
  readonly operations: Operation[] = [];
  readonly sessions: Session[] = [];
  readonly faults: FaultRecord[] = [];
  readonly observations: Observation[] = [];
  /** Free-form log lines (what the nemesis did, and when), for reading a failed run. */
  readonly log: Array<{ at: number; line: string }> = [];
  #nextId = 0;

  /** ms since the run started. */
  now(): number {
    return Date.now() - this.started;
  }

  /** A fresh id, unique in this run. */
  uniqueId(prefix: string): string {
    return `${prefix}${(this.#nextId++).toString(36)}`;
  }

  /** Records that a client invoked an operation; complete it with `complete()`. */
  invoke(client: string, kind: string, object: string, args: unknown, deadlineMs: number): Operation {
    const op: Operation = { id: this.uniqueId("op"), client, kind, object, args, start: this.now(), deadlineMs };
    this.operations.push(op);
    return op;
  }

  /** Records how an operation ended (only the first completion counts: a reply after the deadline is ignored). */
  complete(op: Operation, outcome: Outcome, result?: { value?: unknown; error?: Operation["error"] }): void {
    if (op.outcome !== undefined) return;
    op.outcome = outcome;
    op.end = this.now();
    if (result?.value !== undefined) op.value = result.value;
    if (result?.error !== undefined) op.error = result.error;
  }

  /** Records a new WebSocket session. */
  session(client: string, object: string): Session {
    const session: Session = { id: this.uniqueId("ws"), client, object, start: this.now(), opened: null, sent: 0, received: [], closed: null };
    this.sessions.push(session);
    return session;
  }

  /** Records the start of a fault; call the returned function when it is over. */
  fault(name: string, detail: Record<string, unknown> = {}): (more?: Record<string, unknown>) => void {
    const record: FaultRecord = { name, start: this.now(), detail };
    this.faults.push(record);
    this.note(`fault ${name} ${JSON.stringify(detail)}`);
    return (more) => {
      record.end = this.now();
      if (more !== undefined) Object.assign(record.detail, more);
      this.note(`fault ${name} over ${JSON.stringify(more ?? {})}`);
    };
  }

  /** Records an anomaly noticed live (the checker reports every observation). */
  observe(kind: string, detail: Record<string, unknown>): void {
    this.observations.push({ kind, at: this.now(), detail });
    this.note(`observed ${kind} ${JSON.stringify(detail)}`);
  }

  /** A log line with its time. */
  note(line: string): void {
    this.log.push({ at: this.now(), line });
  }

  /** Counts for the run's summary. */
  summary(): { operations: number; ok: number; errors: number; timeouts: number; sessions: number; messages: number; faults: number } {
    let ok = 0;
    let errors = 0;
    let timeouts = 0;
    for (const op of this.operations) {
      if (op.outcome === "ok") ok++;
      else if (op.outcome === "error") errors++;
      else if (op.outcome === "timeout") timeouts++;
    }
    return {
      operations: this.operations.length,
      ok,
      errors,
      timeouts,
      sessions: this.sessions.length,
      messages: this.sessions.reduce((n, s) => n + s.sent, 0),
      faults: this.faults.length,
    };
  }

  /** Writes everything as JSON lines (one record per line, tagged by type). */
  save(path: string): void {
    const lines = [
      ...this.operations.map((o) => ({ type: "op", ...o })),
      ...this.sessions.map((s) => ({ type: "session", ...s })),
      ...this.faults.map((f) => ({ type: "fault", ...f })),
      ...this.observations.map((o) => ({ type: "observation", ...o })),
      ...this.log.map((l) => ({ type: "log", ...l })),
    ];
    writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  }
}
