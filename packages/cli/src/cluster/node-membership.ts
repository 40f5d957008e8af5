/**
 * A node's place in a multi-machine cluster, as its supervisor holds it: the
 * node's lease in PostgreSQL (renewed on a period, judged on PostgreSQL's
 * clock), the slots it holds (taken when free or, with durability in
 * PostgreSQL, when their owner's lease expired), which local worker serves
 * each of them, and who holds the others (for routing). After every renewal
 * the table goes to the workers with the new local deadline. The supervisor
 * never runs user code, so a slow object cannot delay a renewal.
 */
import { SLOT_COUNT } from "@torpor/core/cluster";
import { unjoinedTable } from "./node-table.ts";
import type { Clock, Logger, TimerHandle, TorporError } from "@torpor/core";
import { monotonicClock, monotonicNow, NodeLease, openClusterDb, SlotLeases, type ClusterDb, type SlotView } from "@torpor/postgres";

/** Who serves each slot, as workers need it. */
export interface NodeTable {
  nodeId: string;
  /** slot → the local worker serving it, or -1 when another node (or nobody) holds it. */
  slots: number[];
  /** slot → the epoch this node holds it at (0 when it does not). */
  epochs: number[];
  /** slot → the node holding it elsewhere: its peer address and its lease's end on the monotonic clock (null: nobody, or this node). */
  remote: Array<{ node: string; address: string; expiresAt: number } | null>;
  /** This node's deadline on the monotonic clock: past it nothing may leave the node. */
  deadline: number;
}

/** Options of {@link NodeMembership.join}. */
export interface MembershipOptions {
  url: string;
  durability: "postgres" | "local";
  nodeId: string;
  /** The peer address other nodes reach this node at. */
  address: string;
  ttlMs: number;
  workers: number;
  logger: Logger;
  /** The table changed or the deadline moved (after every renewal). */
  onTable(table: NodeTable): void;
  /** The lease is lost: the node must fence itself. */
  onLost(error: TorporError): void;
  /**
   * Closes the objects of `slots` (commits finished, sockets closed with
   * 1012) so the slots can be released to a node below its share. Their
   * calls already go elsewhere: the table sent before says nobody here holds them.
   */
  onDrain(slots: number[]): Promise<void>;
  /** The clock of the expiry watch (default: the monotonic clock). */
  clock?: Clock;
}

/** At most this many slots are handed over per renewal, so a node joining moves objects gradually. */
const DRAIN_BATCH = 32;
/** The table is read again this long after another node's lease is due to end (PostgreSQL's now() must be past it). */
const EXPIRY_SLACK_MS = 25;

export class NodeMembership {
  readonly db: ClusterDb;
  readonly lease: NodeLease;
  readonly slots: SlotLeases;
  readonly #options: MembershipOptions;
  /** slot → local worker. */
  readonly #assigned = new Map<number, number>();
  #table: NodeTable;
  #refreshing = false;
  /** Slots being handed over (their objects closing); not served here, not yet released. */
  readonly #draining = new Set<number>();
  /** The read of the table due when the soonest-ending lease of another node ends (see #watchExpiry). */
  #expiryTimer: TimerHandle | null = null;
  #stopped = false;

  private constructor(options: MembershipOptions, db: ClusterDb, lease: NodeLease) {
    this.#options = options;
    this.db = db;
    this.lease = lease;
    this.slots = new SlotLeases(db, options.nodeId);
    this.#table = { ...unjoinedTable(options.nodeId), deadline: lease.deadline };
  }

  /** Connects (checking the server), joins with a lease and takes this node's share of slots. */
  static async join(options: MembershipOptions): Promise<NodeMembership> {
    const db = await openClusterDb({ url: options.url, poolSize: 2 });
    let membership: NodeMembership | undefined;
    try {
      const lease = await NodeLease.join(db, {
        nodeId: options.nodeId,
        address: options.address,
        ttlMs: options.ttlMs,
        logger: options.logger,
        onLost: (error) => options.onLost(error),
      });
      membership = new NodeMembership(options, db, lease);
      if (options.durability === "local") await membership.slots.adoptOwn();
      await membership.refresh();
      lease.onRenewed((deadline) => membership!.#renewed(deadline));
      return membership;
    } catch (error) {
      membership?.lease.stop();
      await db.close().catch(() => {});
      throw error;
    }
  }

  get table(): NodeTable {
    return this.#table;
  }

  /**
   * A renewal succeeded: the workers get its deadline at once, with the table they have (while the lease was live no
   * other node could take a slot this node holds), then the table is read again. Reading it takes several queries,
   * and one still running makes the next renewal skip its read: had the deadline waited for the read, a slow or
   * stuck read of the slot table would let the workers' deadline pass, and fence them, while the lease is renewed.
   */
  #renewed(deadline: number): void {
    this.#table = { ...this.#table, deadline };
    this.#options.onTable(this.#table);
    void this.refresh();
  }

  /** Reads the slot table, takes free (or expired) slots up to this node's share, and tells the workers. */
  async refresh(): Promise<void> {
    if (this.#refreshing || !this.lease.valid()) return;
    this.#refreshing = true;
    try {
      await this.slots.read();
      const taken = await this.slots.rebalance(this.#options.durability === "postgres");
      if (taken.size > 0) this.#options.logger.info("Took slots", { node: this.#options.nodeId, slots: taken.size, held: this.slots.owned.size });
      const views = await this.slots.read();
      const readAt = monotonicNow();
      const excess = this.#options.durability === "postgres" && this.#draining.size === 0 ? await this.#excess() : [];
      for (const slot of excess) this.#draining.add(slot);
      this.#assign();
      const slots = new Array<number>(SLOT_COUNT).fill(-1);
      const epochs = new Array<number>(SLOT_COUNT).fill(0);
      const remote: NodeTable["remote"] = new Array(SLOT_COUNT).fill(null);
      for (const v of views) {
        const worker = this.#assigned.get(v.slot);
        if (this.#draining.has(v.slot)) continue;
        if (worker !== undefined) {
          slots[v.slot] = worker;
          epochs[v.slot] = this.slots.owned.get(v.slot)!;
        } else if (v.owner !== null && v.address !== null && v.leaseLeftMs > 0) {
          // An owner whose lease ran out on PostgreSQL's clock serves nothing: nobody holds the slot until it is taken.
          remote[v.slot] = { node: v.owner, address: v.address, expiresAt: readAt + v.leaseLeftMs };
        }
      }
      this.#table = { nodeId: this.#options.nodeId, slots, epochs, remote, deadline: this.lease.deadline };
      this.#options.onTable(this.#table);
      this.#watchExpiry(views);
      if (excess.length > 0) void this.#handOver(excess);
    } catch (error) {
      this.#options.logger.warn("Reading the cluster's slots failed; retrying at the next renewal", { error });
    } finally {
      this.#refreshing = false;
    }
  }

  /**
   * Reads the table again as soon as another node's lease ends, if no renewal read it by then: a node that died
   * stops renewing, and its slots are taken at its lease's end instead of up to a renewal period later (the
   * failover time is the TTL, not the TTL plus a renewal period). Each read moves the watch to the soonest end.
   */
  #watchExpiry(views: SlotView[]): void {
    this.#expiryTimer?.cancel();
    this.#expiryTimer = null;
    if (this.#stopped || this.#options.durability !== "postgres") return;
    let soonest = Number.POSITIVE_INFINITY;
    for (const v of views) if (v.owner !== null && v.owner !== this.#options.nodeId && v.leaseLeftMs > 0) soonest = Math.min(soonest, v.leaseLeftMs);
    if (soonest === Number.POSITIVE_INFINITY) return;
    this.#expiryTimer = (this.#options.clock ?? monotonicClock).setTimeout(() => {
      this.#expiryTimer = null;
      void this.refresh();
    }, soonest + EXPIRY_SLACK_MS);
  }

  /** Slots held beyond this node's fair share of the live nodes (with durability in PostgreSQL, any node can serve any slot). */
  async #excess(): Promise<number[]> {
    const live = Math.max(1, (await this.slots.liveNodes()).length);
    const over = this.slots.owned.size - Math.ceil(SLOT_COUNT / live);
    if (over <= 0) return [];
    return [...this.slots.owned.keys()].sort((a, b) => b - a).slice(0, Math.min(over, DRAIN_BATCH));
  }

  /** Closes the objects of `slots`, then releases them in PostgreSQL for a node below its share to take. */
  async #handOver(slots: number[]): Promise<void> {
    try {
      await this.#options.onDrain(slots);
      const released = await this.slots.release(slots);
      this.#options.logger.info("Handed slots over", { node: this.#options.nodeId, slots: released.length, held: this.slots.owned.size });
    } catch (error) {
      this.#options.logger.warn("Handing slots over failed; they stay here", { error });
    } finally {
      for (const slot of slots) this.#draining.delete(slot);
    }
  }

  /** Keeps each held slot on its worker; a newly held one goes to the worker with the fewest. */
  #assign(): void {
    for (const slot of [...this.#assigned.keys()]) if (!this.slots.owned.has(slot) || this.#draining.has(slot)) this.#assigned.delete(slot);
    const load = new Array<number>(this.#options.workers).fill(0);
    for (const w of this.#assigned.values()) load[w]!++;
    for (const slot of [...this.slots.owned.keys()].sort((a, b) => a - b)) {
      if (this.#assigned.has(slot) || this.#draining.has(slot)) continue;
      const least = load.indexOf(Math.min(...load));
      this.#assigned.set(slot, least);
      load[least]!++;
    }
  }

  /**
   * Leaves the cluster (graceful stop, after the workers stopped): with
   * durability in PostgreSQL the slots are released and the lease row deleted,
   * so others take them at once; with local durability the slots stay this
   * node's (its data is on this disk) and wait for it to come back.
   */
  async leave(): Promise<void> {
    this.#stop();
    this.lease.stop();
    try {
      if (this.#options.durability === "postgres") {
        await this.slots.release(this.slots.owned.keys());
        await this.lease.leave();
      }
    } finally {
      await this.db.close();
    }
  }

  #stop(): void {
    this.#stopped = true;
    this.#expiryTimer?.cancel();
    this.#expiryTimer = null;
  }

  /** Stops renewing (fencing): the lease then runs out on its own. */
  async abandon(): Promise<void> {
    this.#stop();
    this.lease.stop();
    await this.db.close().catch(() => {});
  }
}
