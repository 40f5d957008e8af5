/**
 * A node's lease: its row in `nodes`, with `expires_at = now() + ttl` on
 * PostgreSQL's clock, renewed on a period. Other nodes may take this node's
 * slots only once that time has passed on PostgreSQL's clock.
 *
 * Locally the node keeps a deadline on the monotonic clock: the send time of
 * the last renewal that succeeded plus the TTL minus a safety margin. The
 * renewal cannot have set an expiry earlier than its own send time plus the
 * TTL, so the deadline comes first by at least the margin (which covers the
 * two clocks' rate difference and the time to stop). When the deadline
 * passes without a renewal, the lease is lost: `onLost` runs once and the node
 * must stop producing output and exit. A process paused past its deadline
 * (SIGSTOP, a VM freeze, a long GC) finds the deadline passed when it wakes:
 * {@link NodeLease.valid} is false from that instant, whatever runs first.
 */
import { TorporError, type Clock, type Logger, silentLogger, type TimerHandle } from "@torpor/core";
import type { ClusterDb } from "./cluster-db.ts";
import { monotonicClock } from "./monotonic-clock.ts";

/** Options of {@link NodeLease.join}. */
export interface NodeLeaseOptions {
  /** Unique per node process (a restarted process is a new node). */
  nodeId: string;
  /** Where other nodes reach this one (`host:port` of its peer endpoint). */
  address: string;
  /** Lease length on PostgreSQL's clock. Default 10,000 ms. */
  ttlMs?: number;
  /** Renewal period. Default a fifth of the TTL. */
  renewEveryMs?: number;
  /** How long before PostgreSQL's expiry the node stops. Default a fifth of the TTL. */
  safetyMs?: number;
  /** A monotonic clock (default: the machine's). */
  clock?: Clock;
  logger?: Logger;
  /** Called once when the lease is lost (deadline passed, or the row was removed). */
  onLost?: (error: TorporError) => void;
}

/** A joined node's lease. */
export class NodeLease {
  readonly nodeId: string;
  readonly ttlMs: number;
  readonly #db: ClusterDb;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #renewEveryMs: number;
  readonly #safetyMs: number;
  readonly #address: string;
  readonly #onLost: (error: TorporError) => void;
  #deadline = Number.NEGATIVE_INFINITY;
  #lost: TorporError | null = null;
  #renewTimer: TimerHandle | null = null;
  #deadlineTimer: TimerHandle | null = null;
  #renewing = false;
  #stopped = false;
  readonly #listeners = new Set<(deadline: number) => void>();

  private constructor(db: ClusterDb, options: NodeLeaseOptions) {
    this.#db = db;
    this.nodeId = options.nodeId;
    this.#address = options.address;
    this.ttlMs = options.ttlMs ?? 10_000;
    this.#renewEveryMs = options.renewEveryMs ?? Math.floor(this.ttlMs / 5);
    this.#safetyMs = options.safetyMs ?? Math.floor(this.ttlMs / 5);
    if (this.#safetyMs + this.#renewEveryMs >= this.ttlMs) {
      throw new TorporError(
        "ERR_INVALID_OPTIONS",
        `Lease settings leave no time to renew: renewEveryMs (${this.#renewEveryMs}) + safetyMs (${this.#safetyMs}) must be less than ttlMs (${this.ttlMs}).`,
      );
    }
    this.#clock = options.clock ?? monotonicClock;
    this.#logger = options.logger ?? silentLogger;
    this.#onLost = options.onLost ?? (() => {});
  }

  /** Inserts this node's row and starts renewing. */
  static async join(db: ClusterDb, options: NodeLeaseOptions): Promise<NodeLease> {
    const lease = new NodeLease(db, options);
    const sent = lease.#clock.now();
    await db.query(
      `INSERT INTO ${db.tables.nodes} (node_id, address, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, expires_at = excluded.expires_at`,
      [lease.nodeId, lease.#address, lease.ttlMs],
    );
    lease.#extend(sent);
    lease.#scheduleRenewal();
    return lease;
  }

  /** The local deadline on the monotonic clock (ms): past it, this node must not act. */
  get deadline(): number {
    return this.#deadline;
  }

  /** True while the deadline has not passed and the lease was not lost. */
  valid(): boolean {
    if (this.#lost !== null) return false;
    if (this.#clock.now() < this.#deadline) return true;
    this.#lose("the lease deadline passed without a renewal");
    return false;
  }

  /** Why the lease was lost, or null. */
  get lost(): TorporError | null {
    return this.#lost;
  }

  /** Calls `fn` with the new deadline after every renewal (the supervisor passes it to its workers). */
  onRenewed(fn: (deadline: number) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Renews now (the periodic renewal calls this); resolves false when the renewal failed. */
  async renew(): Promise<boolean> {
    if (this.#stopped || this.#lost !== null || this.#renewing) return false;
    this.#renewing = true;
    const sent = this.#clock.now();
    try {
      const result = await this.#db.query(
        `UPDATE ${this.#db.tables.nodes} SET expires_at = now() + $2 * interval '1 millisecond' WHERE node_id = $1 AND expires_at > now()`,
        [this.nodeId, this.ttlMs],
      );
      if (result.rowCount !== 1) {
        // Expired on PostgreSQL's clock (or removed): others may own our slots already.
        this.#lose("PostgreSQL says the lease expired or was removed");
        return false;
      }
      if (this.#lost !== null || this.#stopped) return false;
      this.#extend(sent);
      return true;
    } catch (error) {
      this.#logger.warn("Lease renewal failed; retrying", { node: this.nodeId, error });
      return false;
    } finally {
      this.#renewing = false;
    }
  }

  /** Stops renewing and deletes the row, so others take the slots without waiting for expiry. */
  async leave(): Promise<void> {
    this.stop();
    await this.#db.query(`DELETE FROM ${this.#db.tables.nodes} WHERE node_id = $1`, [this.nodeId]);
  }

  /** Stops renewing (the lease then runs out on its own). */
  stop(): void {
    this.#stopped = true;
    this.#renewTimer?.cancel();
    this.#deadlineTimer?.cancel();
  }

  #extend(sent: number): void {
    const deadline = sent + this.ttlMs - this.#safetyMs;
    if (deadline <= this.#deadline) return;
    this.#deadline = deadline;
    this.#deadlineTimer?.cancel();
    this.#deadlineTimer = this.#clock.setTimeout(() => this.valid(), Math.max(0, deadline - this.#clock.now()));
    for (const fn of this.#listeners) fn(deadline);
  }

  #scheduleRenewal(): void {
    if (this.#stopped || this.#lost !== null) return;
    this.#renewTimer = this.#clock.setTimeout(() => {
      void this.renew().finally(() => this.#scheduleRenewal());
    }, this.#renewEveryMs);
  }

  #lose(reason: string): void {
    if (this.#lost !== null) return;
    this.#lost = new TorporError("ERR_CLUSTER_LEASE_LOST", `Node ${this.nodeId} lost its lease: ${reason}. It stops serving; its slots move to other nodes.`);
    this.stop();
    this.#logger.error(this.#lost.message, { node: this.nodeId });
    this.#onLost(this.#lost);
  }
}
