import { TorporError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import type { Logger } from "../logger.ts";
import { PendingClose, type Message, type SocketEnd } from "../websocket/socket-end.ts";
import type { ObjectStorage } from "../storage/storage-provider.ts";

type Waiter = { resolve: () => void; reject: (error: unknown) => void };

/** Shared by every idle gate: a hibernated object with sockets keeps its gate, so it starts with no arrays of its own. */
const NONE: never[] = Object.freeze([]) as never[];

/** A committed batch on its way to disk, with what it holds back. */
interface SealedBatch {
  /** Pairs of (socket end, message or close), in send order. */
  outbox: Array<SocketEnd | Message | PendingClose>;
  waiters: Waiter[];
  /** The batch changed the persisted alarm. */
  readonly alarm: boolean;
  /** Its commit is durable; it is released once every batch before it is too. */
  durable: boolean;
}

function collectCloses(outbox: Array<SocketEnd | Message | PendingClose>, into: SocketEnd[]): void {
  for (let i = 1; i < outbox.length; i += 2) if (outbox[i] instanceof PendingClose) into.push(outbox[i - 1] as SocketEnd);
}

function releaseBatch(batch: SealedBatch): void {
  const outbox = batch.outbox;
  for (let i = 0; i < outbox.length; i += 2) (outbox[i] as SocketEnd).transmit(outbox[i + 1] as Message | PendingClose);
  for (const w of batch.waiters) w.resolve();
}

/** What the output gate needs from the object it guards. */
export interface OutputGateOwner {
  /** The live instance's storage, or null while hibernated. */
  readonly storage: ObjectStorage | null;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** For log lines. */
  readonly objectId: string;
  /** A batch that changed the persisted alarm is durable: schedule `time`. */
  alarmCommitted(time: number | null): void;
  /** A commit failed (`cause`, the error its waiters got): discard the instance and close its sockets with `code`. */
  reset(code: number, reason: string, cause: unknown): void;
  /** A batch that changed the alarm failed: what is stored now is unknown until the object reads it again. */
  alarmUncertain(): void;
}

/**
 * The output gate of one object, and the only place its storage commits.
 *
 * Storage calls open a batch (`writeStarted`); from then on, socket sends and
 * closes, and results of calls, are held until the batch is durable. The
 * batch commits at the end of the turn (or on `flush()` / `sync()`); only
 * after a successful commit is anything held released. A failed commit
 * releases nothing: held output is dropped, waiters are rejected and the
 * object is reset, so no client is told about a write that is not on disk.
 */
export class OutputGate {
  #dirty = false;
  #commitScheduled = false;
  #alarmDirty = false;
  /** Pairs of (socket end, message or close), in send order. */
  #outbox: Array<SocketEnd | Message | PendingClose> = NONE;
  #waiters: Waiter[] = NONE;
  /** Committed batches waiting to be durable, oldest first. */
  #inflight: SealedBatch[] = NONE;
  /** Ends whose held close() was dropped by discard(): CLOSING with nothing sent (see takeDroppedCloses). */
  #droppedCloses: SocketEnd[] = NONE;

  constructor(private readonly owner: OutputGateOwner) {}

  /** True while a batch of writes is open or on its way to disk: output is being held. */
  get holding(): boolean {
    return this.#dirty || this.#inflight.length > 0;
  }

  /** The storage opened a batch: close the gate and commit at the end of this turn. */
  writeStarted(): void {
    if (!this.#dirty && this.#inflight.length > 0) this.#attachHeldToLastBatch();
    this.#dirty = true;
    if (this.#commitScheduled) return;
    this.#commitScheduled = true;
    setImmediate(OutputGate.#commitFromTurn, this);
  }

  /** The persisted alarm changed in the open batch; it is rescheduled after the commit. */
  alarmChanged(): void {
    this.#alarmDirty = true;
  }

  /** Commits now; resolves once durable, rejects (after resetting the object) if the commit failed. */
  flush(): Promise<void> {
    try {
      this.commit();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.holding ? this.afterCommit() : Promise.resolve();
  }

  /** Commits now, for callers that need no result (a failure is reported and resets the object). */
  commitQuietly(): void {
    try {
      this.commit();
    } catch {
      // commit() reported it and reset the object.
    }
  }

  // Static, with the gate as argument: no closure per object.
  static #commitFromTurn(gate: OutputGate): void {
    gate.#commitScheduled = false;
    gate.commitQuietly();
  }

  /**
   * Ends the open batch and releases what the gate held once it is durable
   * (at once for a synchronous commit). Throws `ERR_STORAGE_COMMIT_FAILED`
   * (after resetting the object) if the commit failed.
   */
  commit(): void {
    const storage = this.owner.storage;
    let durable: Promise<void> | null = null;
    if (storage !== null && storage.hasPendingWrites) {
      try {
        if (storage.commitAsync !== undefined) durable = storage.commitAsync();
        else storage.commit();
      } catch (cause) {
        throw this.#failed(cause);
      }
      // Deferred: a transaction() closure is still running, so nothing was
      // committed; keep holding (the storage signals writeStarted again).
      if (durable === null && storage.hasPendingWrites) return;
      this.owner.metrics.commits++;
    }
    this.#dirty = false;
    if (durable !== null) {
      const batch: SealedBatch = { outbox: this.#outbox, waiters: this.#waiters, alarm: this.#alarmDirty, durable: false };
      this.#outbox = NONE;
      this.#waiters = NONE;
      this.#alarmDirty = false;
      if (this.#inflight === NONE) this.#inflight = [];
      this.#inflight.push(batch);
      durable.then(
        () => this.#durable(batch),
        (cause: unknown) => {
          if (this.#inflight.includes(batch)) this.#failed(cause);
        },
      );
    } else if (this.#inflight.length === 0) {
      if ((this.#outbox.length > 0 || this.#waiters.length > 0) && this.#releaseRefused()) return;
      this.#release();
    }
    // Otherwise what was held waits for the batches still in flight (#durable releases it).
  }

  /**
   * A new batch opens while output sent since the last commit waits for the
   * batches in flight: that output depends on them only, so it goes out with
   * the last of them rather than waiting for the new batch too.
   */
  #attachHeldToLastBatch(): void {
    const last = this.#inflight[this.#inflight.length - 1]!;
    if (this.#outbox.length > 0) {
      last.outbox = last.outbox.length === 0 ? this.#outbox : [...last.outbox, ...this.#outbox];
      this.#outbox = NONE;
    }
    if (this.#waiters.length > 0) {
      last.waiters = last.waiters.length === 0 ? this.#waiters : [...last.waiters, ...this.#waiters];
      this.#waiters = NONE;
    }
  }

  /**
   * `batch` is durable. Batches are released in commit order: one that
   * became durable before an earlier one waits for it (after a reset, the
   * next instance's database handle has its own fsync queue, so its first
   * batch can overtake the last one of the instance before). A batch that a
   * failure discarded meanwhile is no longer in flight.
   */
  #durable(batch: SealedBatch): void {
    const inflight = this.#inflight;
    if (!inflight.includes(batch)) return;
    batch.durable = true;
    // Nothing is released before the batch in front is durable; once something is, the storage has the last word.
    if (inflight[0]!.durable && this.#releaseRefused()) return;
    while (inflight.length > 0 && inflight[0]!.durable) {
      const done = inflight.shift()!;
      releaseBatch(done);
      if (done.alarm) this.#alarmCommitted();
    }
    if (inflight.length > 0) return;
    if (this.#inflight === inflight) this.#inflight = NONE;
    if (!this.#dirty) this.#release();
  }

  /** Releases what was held since the last sealed batch (nothing is in flight, no batch open). */
  #release(): void {
    const alarm = this.#alarmDirty;
    this.#alarmDirty = false;
    const batch: SealedBatch = { outbox: this.#outbox, waiters: this.#waiters, alarm, durable: true };
    this.#outbox = NONE;
    this.#waiters = NONE;
    releaseBatch(batch);
    if (alarm) this.#alarmCommitted();
  }

  #alarmCommitted(): void {
    const storage = this.owner.storage;
    if (storage !== null) this.owner.alarmCommitted(storage.alarmTime());
  }

  /** Resolves once nothing is held (every batch so far durable); never rejects. */
  settled(): Promise<void> {
    if (!this.holding) return Promise.resolve();
    return this.afterCommit().catch(() => {});
  }

  /**
   * Clears the alarm if it is still `scheduledTime` (after `alarm()`
   * succeeded or gave up) and commits now, with whatever the run wrote.
   * Throws like `commit()`; a failure found later (the fsync) resets the
   * object like any failed batch, and the alarm is tried again.
   */
  clearAlarm(scheduledTime: number): void {
    const storage = this.owner.storage;
    if (storage === null) return;
    try {
      storage.clearAlarmIfUnchanged(scheduledTime);
    } catch (cause) {
      throw this.#failed(cause);
    }
    this.commit();
  }

  #failed(cause: unknown): TorporError {
    const message = cause instanceof Error ? cause.message : String(cause);
    const error = new TorporError("ERR_STORAGE_COMMIT_FAILED", `A storage commit failed, so the object was reset: ${message}`, { cause });
    this.owner.metrics.commitFailures++;
    this.owner.logger.error("Storage commit failed; resetting the object", { object: this.owner.objectId, error });
    // Batches after a failed one were committed after it: none of them is acknowledged either.
    this.#dropAll(1011, "Durable Object reset after a failed storage write", error);
    return error;
  }

  /**
   * Drops everything held and in flight: waiters are rejected with `error`,
   * the object is reset with `code`, and an alarm any of it changed becomes
   * uncertain.
   */
  #dropAll(code: number, reason: string, error: unknown): void {
    const alarm = this.#alarmDirty || this.#inflight.some((b) => b.alarm);
    this.discard();
    const waiters = [...this.#inflight.flatMap((b) => b.waiters), ...this.#waiters];
    this.#inflight = NONE;
    this.#waiters = NONE;
    for (const w of waiters) w.reject(error);
    this.owner.reset(code, reason, error);
    if (alarm) this.owner.alarmUncertain();
  }

  /**
   * Asks the storage, in the same synchronous step as the release that
   * follows, whether held output may leave now (`refuseRelease`). A refusal
   * (a cluster node past its lease deadline) drops everything held and in
   * flight: waiters get the storage's error as it is (their commits may well
   * be durable, so not ERR_STORAGE_COMMIT_FAILED), and the object is reset.
   */
  #releaseRefused(): boolean {
    const refusal = this.owner.storage?.refuseRelease?.() ?? null;
    if (refusal === null) return false;
    this.owner.logger.error("Output held behind commits was refused by the storage; resetting the object", { object: this.owner.objectId, error: refusal });
    this.#dropAll(1012, "Durable Object output refused by its storage", refusal);
    return true;
  }

  /** Holds a send or close while writes are not yet durable; false when the gate is open. */
  hold(end: SocketEnd, item: Message | PendingClose): boolean {
    if (!this.#dirty && this.#inflight.length === 0) return false;
    if (this.#outbox === NONE) this.#outbox = [];
    this.#outbox.push(end, item);
    return true;
  }

  /**
   * Resolves once every write so far is durable, rejects if that failed;
   * null when nothing is held. Inside a `transaction()` closure
   * (`inClosure`) the open batch cannot commit before the closure ends, so
   * only the batches already on their way to disk are waited for (waiting
   * for the open one would never end if the closure awaits the subrequest).
   */
  barrier(inClosure: boolean): Promise<void> | null {
    if (!this.#dirty) return this.#inflight.length > 0 ? this.afterCommit() : null;
    if (!inClosure) return this.afterCommit();
    const last = this.#inflight[this.#inflight.length - 1];
    if (last === undefined) return null;
    if (last.waiters === NONE) last.waiters = [];
    return new Promise((resolve, reject) => last.waiters.push({ resolve, reject }));
  }

  /** Resolves after the next successful commit; rejects if it fails. */
  afterCommit(): Promise<void> {
    if (this.#waiters === NONE) this.#waiters = [];
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Drops held output (the object is being reset; its open batch was rolled
   * back). Results waiting for the open batch fail with `error`: what they
   * answer may rest on its writes. Batches in flight still settle their waiters.
   */
  discard(error?: unknown): void {
    if (this.#droppedCloses === NONE) this.#droppedCloses = [];
    collectCloses(this.#outbox, this.#droppedCloses);
    for (const batch of this.#inflight) collectCloses(batch.outbox, this.#droppedCloses);
    if (this.#dirty && error !== undefined && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = NONE;
      for (const w of waiters) w.reject(error);
    }
    this.#dirty = false;
    this.#alarmDirty = false;
    this.#outbox = NONE;
    for (const batch of this.#inflight) batch.outbox = NONE;
  }

  /** The ends whose `close()` was held and then dropped: they are CLOSING with nothing sent, so the reset must close them itself. */
  takeDroppedCloses(): SocketEnd[] {
    const ends = this.#droppedCloses;
    this.#droppedCloses = NONE;
    return ends;
  }
}
