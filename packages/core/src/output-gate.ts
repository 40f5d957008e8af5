import { TorporError } from "./errors.ts";
import type { Metrics } from "./metrics.ts";
import type { Logger } from "./logger.ts";
import type { Message, PendingClose, SocketEnd } from "./socket-end.ts";
import type { ObjectStorage } from "./storage-provider.ts";

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
  /** A commit failed: discard the instance and close its sockets with `code`. */
  reset(code: number, reason: string): void;
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
  #outbox: Array<SocketEnd | Message | PendingClose> = [];
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(private readonly owner: OutputGateOwner) {}

  /** True while a batch of writes is open: output is being held. */
  get holding(): boolean {
    return this.#dirty;
  }

  /** The storage opened a batch: close the gate and commit at the end of this turn. */
  writeStarted(): void {
    this.#dirty = true;
    if (this.#commitScheduled) return;
    this.#commitScheduled = true;
    setImmediate(this.#commitFromTurn);
  }

  /** The persisted alarm changed in the open batch; it is rescheduled after the commit. */
  alarmChanged(): void {
    this.#alarmDirty = true;
  }

  /** Commits now; resolves once durable, rejects (after resetting the object) if the commit failed. */
  flush(): Promise<void> {
    try {
      this.commit();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Commits now, for callers that need no result (a failure is reported and resets the object). */
  commitQuietly(): void {
    try {
      this.commit();
    } catch {
      // commit() reported it and reset the object.
    }
  }

  readonly #commitFromTurn = (): void => {
    this.#commitScheduled = false;
    this.commitQuietly();
  };

  /**
   * Makes the open batch durable, then releases what the gate held. Throws
   * `ERR_STORAGE_COMMIT_FAILED` (after resetting the object) if it failed.
   */
  commit(): void {
    const storage = this.owner.storage;
    if (storage !== null && storage.hasPendingWrites) {
      try {
        storage.commit();
        this.owner.metrics.commits++;
      } catch (cause) {
        throw this.#failed(cause);
      }
    }
    this.#dirty = false;
    const outbox = this.#outbox;
    if (outbox.length > 0) {
      this.#outbox = [];
      for (let i = 0; i < outbox.length; i += 2) (outbox[i] as SocketEnd).transmit(outbox[i + 1] as Message | PendingClose);
    }
    const waiters = this.#waiters;
    if (waiters.length > 0) {
      this.#waiters = [];
      for (const w of waiters) w.resolve();
    }
    if (this.#alarmDirty && storage !== null) {
      this.#alarmDirty = false;
      this.owner.alarmCommitted(storage.alarmTime());
    }
  }

  /**
   * Clears the alarm if it is still `scheduledTime`, as its own committed
   * batch (after `alarm()` succeeded or gave up). Throws like `commit()`.
   */
  clearAlarm(scheduledTime: number): void {
    const storage = this.owner.storage;
    if (storage === null) return;
    try {
      storage.clearAlarmIfUnchanged(scheduledTime);
    } catch (cause) {
      throw this.#failed(cause);
    }
  }

  #failed(cause: unknown): TorporError {
    const message = cause instanceof Error ? cause.message : String(cause);
    const error = new TorporError("ERR_STORAGE_COMMIT_FAILED", `A storage commit failed, so the object was reset: ${message}`, { cause });
    this.owner.metrics.commitFailures++;
    this.owner.logger.error("Storage commit failed; resetting the object", { object: this.owner.objectId, error });
    this.discard();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    this.owner.reset(1011, "Durable Object reset after a failed storage write");
    return error;
  }

  /** Holds a send or close while writes are not yet durable; false when the gate is open. */
  hold(end: SocketEnd, item: Message | PendingClose): boolean {
    if (!this.#dirty) return false;
    this.#outbox.push(end, item);
    return true;
  }

  /** Resolves after the next successful commit; rejects if it fails. */
  afterCommit(): Promise<void> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Drops held output (the object is being reset; its batch was rolled back). */
  discard(): void {
    this.#dirty = false;
    this.#alarmDirty = false;
    this.#outbox = [];
  }
}
