/**
 * Slots in PostgreSQL: each has an owner node and an epoch that every change
 * of owner raises. A node takes a slot only with one conditional UPDATE that
 * checks, on PostgreSQL's clock, that the slot is free or its owner's lease
 * has expired, and that its own lease is live; two nodes cannot both win.
 * Reading the table is a plain SELECT (never FOR SHARE on a hot row).
 */
import { SLOT_COUNT } from "@torpor/core/cluster";
import type { ClusterDb } from "./cluster-db.ts";

/** One slot as a node sees it. */
export interface SlotView {
  readonly slot: number;
  /** The owner node, or null when free. */
  readonly owner: string | null;
  readonly epoch: number;
  /** The owner's peer address (null when free or unknown). */
  readonly address: string | null;
  /** Milliseconds left on the owner's lease on PostgreSQL's clock (≤ 0: expired). */
  readonly leaseLeftMs: number;
}

/** A live node, as listed in `nodes`. */
export interface NodeView {
  readonly nodeId: string;
  readonly address: string;
  readonly leaseLeftMs: number;
}

/** The slots one node holds, and the operations that change them. */
export class SlotLeases {
  /** Slot → the epoch this node holds it at. */
  readonly owned = new Map<number, number>();
  readonly #db: ClusterDb;
  readonly #nodeId: string;

  constructor(db: ClusterDb, nodeId: string) {
    this.#db = db;
    this.#nodeId = nodeId;
  }

  /** The whole table with each owner's lease, for routing. */
  async read(): Promise<SlotView[]> {
    const t = this.#db.tables;
    const result = await this.#db.query<{ slot: number; owner: string | null; epoch: string; address: string | null; left: number | null }>(
      `SELECT s.slot, s.owner, s.epoch, n.address,
              (extract(epoch FROM n.expires_at - now()) * 1000)::float8 AS left
         FROM ${t.slots} s LEFT JOIN ${t.nodes} n ON n.node_id = s.owner ORDER BY s.slot`,
    );
    const views = result.rows.map((r) => ({ slot: r.slot, owner: r.owner, epoch: Number(r.epoch), address: r.address, leaseLeftMs: r.left ?? -1 }));
    // What PostgreSQL says this node holds is what it holds (a slot taken after our lease lapsed is gone).
    for (const [slot, epoch] of this.owned) {
      const v = views[slot];
      if (v === undefined || v.owner !== this.#nodeId || v.epoch !== epoch) this.owned.delete(slot);
    }
    return views;
  }

  /** Live nodes (lease not expired on PostgreSQL's clock). */
  async liveNodes(): Promise<NodeView[]> {
    const result = await this.#db.query<{ node_id: string; address: string; left: number }>(
      `SELECT node_id, address, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS left
         FROM ${this.#db.tables.nodes} WHERE expires_at > now() ORDER BY node_id`,
    );
    return result.rows.map((r) => ({ nodeId: r.node_id, address: r.address, leaseLeftMs: r.left }));
  }

  /**
   * Takes up to `count` slots that are free or whose owner's lease expired,
   * if this node's own lease is live. Returns the slots taken with their new epochs.
   */
  async claimOrphans(count: number, takeExpired = true): Promise<Map<number, number>> {
    if (count <= 0) return new Map();
    const t = this.#db.tables;
    // With local durability a dead node's slots wait for it (its data is on its disk): only free slots are taken.
    const expired = takeExpired ? `OR NOT EXISTS (SELECT 1 FROM ${t.nodes} n WHERE n.node_id = s.owner AND n.expires_at > now())` : "";
    const result = await this.#db.query<{ slot: number; epoch: string }>(
      `WITH me AS (SELECT 1 FROM ${t.nodes} WHERE node_id = $1 AND expires_at > now()),
            cand AS (
              SELECT s.slot FROM ${t.slots} s
               WHERE EXISTS (SELECT 1 FROM me)
                 AND (s.owner IS NULL ${expired})
               ORDER BY random() LIMIT $2
               FOR UPDATE SKIP LOCKED)
       UPDATE ${t.slots} s SET owner = $1, epoch = s.epoch + 1
         FROM cand WHERE s.slot = cand.slot
       RETURNING s.slot, s.epoch`,
      [this.#nodeId, count],
    );
    const taken = new Map<number, number>();
    for (const row of result.rows) {
      taken.set(row.slot, Number(row.epoch));
      this.owned.set(row.slot, Number(row.epoch));
    }
    return taken;
  }

  /**
   * Takes this node's fair share of orphaned slots: up to ceil(slots / live
   * nodes) in total. Returns the slots taken.
   */
  async rebalance(takeExpired = true): Promise<Map<number, number>> {
    const live = Math.max(1, (await this.liveNodes()).length);
    const fair = Math.ceil(SLOT_COUNT / live);
    return this.claimOrphans(fair - this.owned.size, takeExpired);
  }

  /**
   * Takes back the slots PostgreSQL still records as this node's (a node id
   * kept across restarts, with local durability: the data is on this disk).
   * The caller holds the data directory's lock, so no other process is this node.
   */
  async adoptOwn(): Promise<Map<number, number>> {
    const result = await this.#db.query<{ slot: number; epoch: string }>(`SELECT slot, epoch FROM ${this.#db.tables.slots} WHERE owner = $1`, [this.#nodeId]);
    for (const row of result.rows) this.owned.set(row.slot, Number(row.epoch));
    return new Map(this.owned);
  }

  /** Gives slots up (owner NULL, epoch raised) so others can take them at once. */
  async release(slots: Iterable<number>): Promise<number[]> {
    const list = [...slots].filter((s) => this.owned.has(s));
    if (list.length === 0) return [];
    const epochs = list.map((s) => this.owned.get(s)!);
    const result = await this.#db.query<{ slot: number }>(
      `UPDATE ${this.#db.tables.slots} s SET owner = NULL, epoch = s.epoch + 1
         FROM unnest($2::int[], $3::bigint[]) AS v(slot, epoch)
        WHERE s.slot = v.slot AND s.owner = $1 AND s.epoch = v.epoch
       RETURNING s.slot`,
      [this.#nodeId, list, epochs],
    );
    for (const s of list) this.owned.delete(s);
    return result.rows.map((r) => r.slot);
  }
}
