/**
 * The write-batch protocol every storage provider follows, written once.
 *
 * A provider keeps the writes of one object in one open batch (a SQLite
 * transaction, an undo log, a buffered PostgreSQL transaction) until the
 * runtime commits it at the end of the turn. What the runtime needs from the
 * provider around that batch is the same whatever holds the bytes, and it is
 * this class:
 *
 * - **write started**: the first write of a batch calls `hooks.writeStarted()`
 *   once, so the output gate closes and a commit is scheduled
 *   ({@link WriteBatch.started}).
 * - **closure depth**: while a `transaction()` or `transactionSync()` closure
 *   runs, a commit would make half of it durable. Both kinds count: a
 *   synchronous closure cannot span a turn, but `sync()` inside it would
 *   commit mid-closure ({@link WriteBatch.enterClosure}).
 * - **deferred commit**: a commit asked for while a closure runs does
 *   nothing and is asked for again (`writeStarted()` once more) when the last
 *   closure ends ({@link WriteBatch.beginCommit}, {@link WriteBatch.leaveClosure}).
 * - **lost batch**: when the batch can no longer commit as its writers saw it
 *   (SQLite ended the transaction itself; a rolled-back `transaction()` took
 *   another event's writes with it), every later storage call throws the
 *   reason, and the commit fails with `ERR_STORAGE_COMMIT_FAILED` after the
 *   provider rolled back, so nothing of it is acknowledged
 *   ({@link WriteBatch.lose}).
 *
 * A provider's commit then reads:
 * ```ts
 * commitAsync() {
 *   if (this.batch.beginCommit(() => this.rollback(), label) !== "commit") return null;
 *   try { this.#writeCommit(); } catch (cause) { this.rollback(); throw commitFailed(label, cause); }
 *   this.batch.committed();
 *   return this.#durable(); // resolves once on disk; rejects if that failed
 * }
 * ```
 * See `storage-provider.ts` for the whole contract and docs/architecture.md
 * ("The batch protocol") for what each step guarantees.
 */
import { TorporError } from "../errors.ts";
import type { StorageHooks } from "./storage-provider.ts";
import { storageClosedError } from "./storage-validation.ts";

/** What {@link WriteBatch.beginCommit} tells the provider to do. */
export type CommitStep = "none" | "deferred" | "commit";

/** The batch protocol state of one object's storage (one per `ObjectStorage`). */
export class WriteBatch {
  readonly #hooks: Pick<StorageHooks, "writeStarted">;
  #open = false;
  #depth = 0;
  #deferred = false;
  #lost: TorporError | null = null;
  #closed = false;

  constructor(hooks: Pick<StorageHooks, "writeStarted">) {
    this.#hooks = hooks;
  }

  /** A batch is open: `writeStarted()` was called and no commit or rollback ended it (the provider's `hasPendingWrites`). */
  get open(): boolean {
    return this.#open;
  }

  /** Transaction closures running now. */
  get depth(): number {
    return this.#depth;
  }

  /** Why the open batch cannot commit, or null. */
  get lost(): TorporError | null {
    return this.#lost;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws if the storage is closed or the open batch is lost: call first in every storage primitive. */
  check(): void {
    if (this.#closed) throw storageClosedError();
    if (this.#lost !== null) throw this.#lost;
  }

  /** A write joined the batch (call after the provider opened its own transaction): the first one signals the runtime. */
  started(): void {
    if (this.#open) return;
    this.#open = true;
    this.#hooks.writeStarted();
  }

  /** A transaction closure begins: commits wait until every closure has ended. */
  enterClosure(): void {
    this.#depth++;
  }

  /** A transaction closure ended (kept or rolled back): a commit deferred meanwhile is asked for again. */
  leaveClosure(): void {
    if (this.#depth > 0) this.#depth--;
    if (this.#depth > 0 || !this.#deferred) return;
    this.#deferred = false;
    if (this.#open) this.#hooks.writeStarted();
  }

  /**
   * The first step of every commit. `"none"`: no batch is open. `"deferred"`:
   * a closure runs, nothing may commit now; the runtime keeps holding output
   * and is signalled again when the closure ends. `"commit"`: commit now,
   * then call {@link committed}. A lost batch is rolled back (`rollback`) and
   * its failure thrown as `ERR_STORAGE_COMMIT_FAILED`.
   */
  beginCommit(rollback: () => void, label: string): CommitStep {
    const lost = this.#lost;
    if (lost !== null) {
      rollback();
      this.rolledBack();
      throw commitFailed(label, lost.cause ?? lost, lost.message);
    }
    if (this.#closed || (!this.#open && this.#depth === 0)) {
      this.#open = false;
      return "none";
    }
    if (this.#depth > 0) {
      this.#deferred = true;
      return "deferred";
    }
    return this.#open ? "commit" : "none";
  }

  /** The provider ended the batch (committed, or found nothing to commit). */
  committed(): void {
    this.#open = false;
  }

  /** The provider rolled the batch back: nothing is open, lost or deferred. */
  rolledBack(): void {
    this.#open = false;
    this.#lost = null;
    this.#deferred = false;
  }

  /**
   * The open batch can no longer be committed as its writers saw it: storage
   * calls throw `error` until the runtime fails the batch. If no write
   * signalled it yet, this does, so the runtime commits (and so fails) it.
   */
  lose(error: TorporError): void {
    if (this.#lost !== null) return;
    this.#lost = error;
    this.started();
  }

  /** The storage is closed: every later call throws `ERR_STORAGE_CLOSED`. */
  close(): void {
    this.#closed = true;
  }
}

/** `ERR_STORAGE_COMMIT_FAILED` for the batch of `label` (an object's namespace/id), rolled back because of `cause`. */
export function commitFailed(label: string, cause: unknown, reason = cause instanceof Error ? cause.message : String(cause)): TorporError {
  return new TorporError("ERR_STORAGE_COMMIT_FAILED", `Commit of ${label} failed and its batch was rolled back: ${reason}`, { cause });
}
