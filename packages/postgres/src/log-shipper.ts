/**
 * Ships commits to the object log: every object that committed during one
 * turn of the event loop goes in one fenced statement (one PostgreSQL
 * transaction), with a few such statements in flight at once on separate
 * connections. An object has at most one record in flight; commits it makes
 * meanwhile are merged into its next record (pages of later commits win), so
 * its sequence stays contiguous and in order.
 *
 * Outcomes, per object:
 * - fence held: the record is durable; the commits it carries are acknowledged.
 * - fence failed (the object was claimed elsewhere, or its head moved): the
 *   commits fail with ERR_CLUSTER_FENCED and nothing more is shipped for it;
 *   the storage resets the object. Never retried with a re-read head.
 * - the server answered with an error (nothing of the statement was written):
 *   retried with the same sequence numbers after a backoff, a bounded number of times.
 * - the connection failed after the statement was sent (unknown outcome): the
 *   object's epoch is raised if still ours (so a statement still on its way
 *   fails its fence) and the head read back says whether the record was
 *   written; if not, it is sent again under the new epoch.
 * A promise here says only whether the record is durable. Whether its
 * output may leave is asked again where it is released: the storage's
 * `refuseRelease()` calls {@link LogShipper.refusal} in the same synchronous
 * step as the output gate's release, so a commit found durable before a pause
 * (SIGSTOP, a VM freeze) is not acknowledged after it. Once `canAcknowledge()`
 * is false (the node's lease deadline passed) nothing more is shipped.
 */
import { TorporError, type Clock, type Logger, silentLogger } from "@torpor/core";
import type { ObjectKey } from "@torpor/core/storage";
import { isConnectionFailure } from "./cluster-db.ts";
import type { ObjectLog } from "./object-log.ts";
import { objectKeyString } from "./object-log.ts";
import { monotonicClock } from "./monotonic-clock.ts";
import { encodeRecord, mergeRecords, type PageRecord } from "./page-record.ts";

/** One object's position in its log, shared between its storage and the shipper. */
export class LogStream {
  /** The epoch this node claimed the object under (raised when an unknown outcome is settled). */
  epoch: number;
  /** The last sequence number known durable. */
  head: number;
  /** Set once a commit failed its fence or could not be made durable: the stream ships nothing more. */
  failed: TorporError | null = null;
  /** Bytes of log written since the last snapshot (the storage decides when to snapshot). */
  logBytes = 0;
  /** @internal commits waiting for the next shipment */
  pending: Pending | null = null;
  /** @internal a record of this object is in flight */
  inflight = false;

  constructor(
    readonly key: ObjectKey,
    epoch: number,
    head: number,
  ) {
    this.epoch = epoch;
    this.head = head;
  }
}

interface Pending {
  record: PageRecord;
  alarm: number | null;
  waiters: { resolve(): void; reject(error: unknown): void }[];
  attempts: number;
}

interface InFlight {
  readonly stream: LogStream;
  readonly pending: Pending;
  readonly seq: number;
  readonly bytes: Buffer;
}

/** Options of {@link LogShipper}. */
export interface LogShipperOptions {
  /** Statements in flight at once. Default 4. */
  maxInflight?: number;
  /** Record bytes per statement (a larger record goes alone). Default 8 MiB. */
  maxBatchBytes?: number;
  /** Attempts for a statement the server refused before its commits fail. Default 5. */
  maxAttempts?: number;
  /** False once the node may no longer acknowledge anything (its lease deadline passed). */
  canAcknowledge?: () => boolean;
  clock?: Clock;
  logger?: Logger;
}

/** Statistics for the bench and the admin view. */
export interface ShipperStats {
  statements: number;
  records: number;
  bytes: number;
  fenceFailures: number;
  unknownOutcomes: number;
  retries: number;
}

/** The commit pipeline of one process. */
export class LogShipper {
  readonly stats: ShipperStats = { statements: 0, records: 0, bytes: 0, fenceFailures: 0, unknownOutcomes: 0, retries: 0 };
  readonly #log: ObjectLog;
  readonly #maxInflight: number;
  readonly #maxBatchBytes: number;
  readonly #maxAttempts: number;
  readonly #canAcknowledge: () => boolean;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** Streams with commits waiting, in arrival order. */
  readonly #ready = new Set<LogStream>();
  #inflight = 0;
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];

  constructor(log: ObjectLog, options: LogShipperOptions = {}) {
    this.#log = log;
    this.#maxInflight = options.maxInflight ?? 4;
    this.#maxBatchBytes = options.maxBatchBytes ?? 8 << 20;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#canAcknowledge = options.canAcknowledge ?? (() => true);
    this.#clock = options.clock ?? monotonicClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Ships one commit's pages; resolves once they are durable in PostgreSQL, rejects if they never will be. */
  ship(stream: LogStream, record: PageRecord, alarm: number | null): Promise<void> {
    if (stream.failed !== null) return Promise.reject(stream.failed);
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      if (stream.pending === null) stream.pending = { record, alarm, waiters: [waiter], attempts: 0 };
      else {
        stream.pending.record = mergeRecords(stream.pending.record, record);
        stream.pending.alarm = alarm;
        stream.pending.waiters.push(waiter);
      }
      if (!stream.inflight) this.#ready.add(stream);
      this.#schedule();
    });
  }

  /**
   * Null while output behind durable commits may be released; past the
   * node's deadline, the error its waiters get (the output gate asks at the
   * instant it would release, see ReplicatedStorage.refuseRelease).
   */
  refusal(): TorporError | null {
    if (this.#canAcknowledge()) return null;
    return new TorporError(
      "ERR_CLUSTER_LEASE_LOST",
      "The node's lease deadline passed before this output could be released: the commits it waited for may be durable (the object's next owner has them), but this node may no longer answer for the object. Retry: the call goes to its new owner.",
    );
  }

  /** Resolves when nothing is waiting or in flight. */
  idle(): Promise<void> {
    if (this.#inflight === 0 && this.#ready.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Records in flight or waiting. */
  get backlog(): number {
    return this.#inflight + this.#ready.size;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Every object that commits in this turn of the event loop joins the same statement.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#inflight < this.#maxInflight && this.#ready.size > 0) {
      const batch: InFlight[] = [];
      let bytes = 0;
      for (const stream of this.#ready) {
        const pending = stream.pending!;
        const encoded = encodeRecord(pending.record);
        if (batch.length > 0 && bytes + encoded.length > this.#maxBatchBytes) break;
        this.#ready.delete(stream);
        stream.pending = null;
        stream.inflight = true;
        batch.push({ stream, pending, seq: stream.head + 1, bytes: encoded });
        bytes += encoded.length;
      }
      this.#inflight++;
      void this.#send(batch).finally(() => {
        this.#inflight--;
        if (this.#ready.size > 0) this.#schedule();
        else if (this.#inflight === 0) for (const done of this.#idleWaiters.splice(0)) done();
      });
    }
  }

  async #send(batch: InFlight[]): Promise<void> {
    this.stats.statements++;
    let sent = false;
    try {
      const written = await this.#log.append(
        batch.map((f) => ({ key: f.stream.key, epoch: f.stream.epoch, seq: f.seq, record: f.bytes, alarm: f.pending.alarm })),
        () => {
          sent = true;
        },
      );
      for (const f of batch) {
        if (written.has(objectKeyString(f.stream.key))) this.#durable(f);
        else this.#fenced(f, "its fence failed (the object was claimed by another node, or its log moved)");
      }
    } catch (error) {
      if (sent && isConnectionFailure(error)) await this.#settle(batch, error);
      // Not sent (no connection): retry for as long as the lease holds. Refused by the server: a few times.
      else this.#retry(batch, error, sent);
    }
  }

  #durable(f: InFlight): void {
    const { stream } = f;
    stream.head = f.seq;
    stream.logBytes += f.bytes.length;
    stream.inflight = false;
    this.stats.records++;
    this.stats.bytes += f.bytes.length;
    if (!this.#canAcknowledge()) {
      // Durable, so its promise resolves (the output gate's refuseRelease refuses its output); but this node is past
      // its deadline: nothing queued behind it is shipped.
      const failed = new TorporError("ERR_CLUSTER_LEASE_LOST", "The node's lease deadline passed before the commit was written.");
      this.#fail(stream, { ...f.pending, waiters: [] }, failed);
    }
    for (const w of f.pending.waiters) w.resolve();
    if (stream.failed !== null) return;
    if (stream.pending !== null) this.#ready.add(stream);
  }

  #fenced(f: InFlight, why: string): void {
    this.stats.fenceFailures++;
    const key = f.stream.key;
    this.#fail(f.stream, f.pending, new TorporError("ERR_CLUSTER_FENCED", `Commit ${f.seq} of ${key.namespace}/${key.name ?? key.id} was refused: ${why}.`));
  }

  /** Fails this commit and everything queued behind it; the stream ships nothing more. */
  #fail(stream: LogStream, pending: Pending, error: TorporError): void {
    stream.failed ??= error;
    stream.inflight = false;
    for (const w of pending.waiters) w.reject(stream.failed);
    const queued = stream.pending;
    stream.pending = null;
    this.#ready.delete(stream);
    if (queued !== null) for (const w of queued.waiters) w.reject(stream.failed);
  }

  /** Puts a record back in front of anything the object committed since, to be sent again with the same seq. */
  #requeue(f: InFlight): void {
    const { stream, pending } = f;
    stream.inflight = false;
    const later = stream.pending;
    if (later !== null) {
      pending.record = mergeRecords(pending.record, later.record);
      pending.alarm = later.alarm;
      pending.waiters.push(...later.waiters);
    }
    stream.pending = pending;
    this.#ready.add(stream);
  }

  #retry(batch: InFlight[], error: unknown, bounded: boolean): void {
    this.stats.retries++;
    const attempts = Math.max(...batch.map((f) => ++f.pending.attempts));
    this.#logger.warn("Commit statement failed; nothing of it was written", { objects: batch.length, attempts, error });
    if (!this.#canAcknowledge()) {
      for (const f of batch)
        this.#fail(f.stream, f.pending, new TorporError("ERR_CLUSTER_LEASE_LOST", "The node's lease deadline passed before the commit was written."));
      return;
    }
    if (bounded && attempts >= this.#maxAttempts) {
      for (const f of batch) {
        const key = f.stream.key;
        this.#fail(
          f.stream,
          f.pending,
          new TorporError(
            "ERR_STORAGE_COMMIT_FAILED",
            `Commit of ${key.namespace}/${key.name ?? key.id} failed ${attempts} times in PostgreSQL: ${message(error)}`,
            {
              cause: error,
            },
          ),
        );
      }
      return;
    }
    // Held back (not ready) until the backoff ends, so the next statement does not retry at once.
    for (const f of batch) f.stream.inflight = true;
    this.#clock.setTimeout(
      () => {
        for (const f of batch) this.#requeue(f);
        this.#schedule();
      },
      Math.min(2_000, 50 * 2 ** attempts),
    );
  }

  async #settle(batch: InFlight[], cause: unknown): Promise<void> {
    this.stats.unknownOutcomes++;
    this.#logger.warn("Connection failed after a commit statement was sent; reading the heads back", { objects: batch.length, error: cause });
    for (let attempt = 0; ; attempt++) {
      if (!this.#canAcknowledge()) {
        for (const f of batch)
          this.#fail(f.stream, f.pending, new TorporError("ERR_CLUSTER_LEASE_LOST", "The node's lease deadline passed while a commit's outcome was unknown."));
        return;
      }
      try {
        const heads = await this.#log.settle(batch.map((f) => ({ key: f.stream.key, epoch: f.stream.epoch })));
        for (const f of batch) {
          const now = heads.get(objectKeyString(f.stream.key));
          if (now === undefined) this.#fenced(f, "another node claimed the object while the commit's outcome was unknown");
          else if (now.head === f.seq) {
            f.stream.epoch = now.epoch;
            this.#durable(f);
          } else if (now.head === f.seq - 1) {
            f.stream.epoch = now.epoch;
            this.#requeue(f);
          } else this.#fenced(f, `the object's head is ${now.head}, expected ${f.seq - 1} or ${f.seq}`);
        }
        if (this.#ready.size > 0) this.#schedule();
        return;
      } catch (error) {
        this.#logger.warn("Reading heads back failed; retrying", { attempt, error });
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
      }
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
