/**
 * The multinode fault schedule's probe of a stalled node. The schedule's six
 * random clients hardly ever read from a node while it is stalled past its
 * lease (each soon blocks on a write waiting for that node), so a node that
 * kept serving after its local deadline, stale reads from memory, would go
 * unseen. The probe aims at exactly that: before the stall it activates an
 * object of its own on the node (nothing else touches it, so no write of
 * another client can leave it waiting for a commit there); once another node
 * took the object's slot over on PostgreSQL, it writes the object through
 * that node, then, past the stalled node's deadline, reads and writes it
 * through the stalled node itself. A node that fenced itself answers neither;
 * a node that still answers serves a read lacking the acknowledged write
 * (stale-read) or acknowledges a write the new owner never sees (lost-write).
 * A second object is written through the stalled node as the stall begins:
 * that commit reaches PostgreSQL after the new owner wrote (held on a stalled
 * link, or sent by a paused node when it wakes), and only the per-commit fence
 * keeps it from replacing the new owner's acknowledged record (restored-differs).
 * Its operations go into the schedule's list and through the same checker.
 */
import { performance } from "node:perf_hooks";
import { clusterQuery, nameHeldBy, nodeIdOf, type TestNode } from "./multinode-helpers.ts";

/** One client operation of the schedule, as the checker sees it. */
export interface Op {
  id: string;
  kind: "write" | "read";
  object: string;
  node: string;
  outcome: "ok" | "error" | "timeout";
  reply?: unknown;
  /** When the client sent it and when it had the answer (the test's clock). */
  invokedAt: number;
  completedAt?: number;
}

/** What the probe needs from the schedule. */
export interface ProbeContext {
  /** The cluster database (for slot owners and object names). */
  url: string;
  nodes: readonly (TestNode | null)[];
  /** Adds an operation to the schedule's list (checked with the clients' ones). */
  record(op: Op): void;
  say(line: string): void;
  /** A call's deadline (past it the checker counts a hang). */
  deadlineMs: number;
}

/** A probe armed on one node before its stall: {@link StalledNodeProbe.afterTakeover} runs during the stall. */
export interface ArmedProbe {
  /** Until `until` (the test's clock): waits for the object's slot to move, writes through the new owner, then reads and writes through the stalled node once `notBefore` passed. */
  afterTakeover(notBefore: number, until: number): Promise<void>;
}

/** The probe: one object of its own per stall (named `p<k>-<i>`), read back by the schedule like the clients' objects. */
export class StalledNodeProbe {
  /** Every object the probe wrote to (the schedule reads them back and checks them with the others). */
  readonly objects = new Set<string>();
  readonly #ctx: ProbeContext;
  #n = 0;
  #stalls = 0;

  constructor(ctx: ProbeContext) {
    this.#ctx = ctx;
  }

  /**
   * Before node `i` stalls: two objects whose slots it holds, activated there by an acknowledged write. Null (said in
   * the log) when that failed.
   */
  async arm(i: number): Promise<ArmedProbe | null> {
    const ctx = this.#ctx;
    const node = ctx.nodes[i];
    if (node === null || node === undefined) return null;
    const k = this.#stalls++;
    const nodeId = nodeIdOf(node);
    // Any object claimed through node i tells the namespace (needed to compute which names fall in its slots).
    const seed = `p${k}-seed`;
    if (!(await this.#acknowledged(seed, node))) return this.#skip(`probe ${k}: no write of ${seed} through ${node.name} was acknowledged`);
    const live: { object: string; slot: number }[] = [];
    // `r`: read through the stalled node past its deadline (nothing else touches it there, so no commit holds it back).
    // `w`: written through the stalled node as the stall begins: a commit sent before its deadline that reaches
    // PostgreSQL after the new owner wrote (a stalled link delivers it late; a paused node sends it when it wakes).
    for (const role of ["r", "w"]) {
      let object: string;
      try {
        object = await nameHeldBy(ctx.url, nodeId, seed, `p${k}-${role}`);
      } catch (error) {
        return this.#skip(`probe ${k}: ${(error as Error).message}`);
      }
      if (!(await this.#acknowledged(object, node))) return this.#skip(`probe ${k}: no write of ${object} through ${node.name} was acknowledged`);
      const [claim] = await clusterQuery<{ owner: string; slot: number }>(ctx.url, "SELECT owner, slot FROM torpor.objects WHERE name = $1", [object]);
      if (claim?.owner !== nodeId) return this.#skip(`probe ${k}: ${object} was claimed by ${claim?.owner ?? "nobody"}, not ${node.name}`);
      live.push({ object, slot: claim.slot });
    }
    const [reader, writer] = live as [{ object: string; slot: number }, { object: string; slot: number }];
    ctx.say(`probe ${k}: ${reader.object} (slot ${reader.slot}) and ${writer.object} (slot ${writer.slot}) live on ${node.name}`);
    return {
      afterTakeover: async (notBefore, until) => {
        const late = this.#call("write", writer.object, node);
        for (const { object, slot } of [writer, reader]) {
          const owner = await this.#newOwner(slot, nodeId, until);
          if (owner === undefined) return void ctx.say(`probe ${k}: slot ${slot} did not move off ${node.name} in time`);
          if (!(await this.#writeThrough(k, object, owner, until))) return;
        }
        // Before its deadline the stalled node may still serve (reads from memory; its commits fail their fence).
        const wait = notBefore - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const read = await this.#call("read", reader.object, node);
        const write = await this.#call("write", reader.object, node);
        ctx.say(`probe ${k}: through the stalled ${node.name}: read ${read.outcome}, write ${write.outcome}, early write ${(await late).outcome}`);
      },
    };
  }

  /** A write through `node`, tried up to 5 times (a node that just started may not serve every slot yet). */
  async #acknowledged(object: string, node: TestNode): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if ((await this.#call("write", object, node)).outcome === "ok") return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }

  /** The live node that holds `slot` on PostgreSQL once it moved off `from` (its lease ended there), polled until `until`. */
  async #newOwner(slot: number, from: string, until: number): Promise<TestNode | undefined> {
    const ctx = this.#ctx;
    while (performance.now() < until) {
      const [row] = await clusterQuery<{ owner: string | null }>(
        ctx.url,
        "SELECT s.owner FROM torpor.slots s JOIN torpor.nodes n ON n.node_id = s.owner AND n.expires_at > now() WHERE s.slot = $1",
        [slot],
      );
      const id = row?.owner ?? null;
      const owner = id === null || id === from ? undefined : ctx.nodes.find((n) => n !== null && n.server.stdout().includes(`"node":"${id}"`));
      if (owner !== undefined && owner !== null) return owner;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  /** A write through the new owner, tried again until acknowledged (its worker learns the table after PostgreSQL changed). */
  async #writeThrough(k: number, object: string, owner: TestNode, until: number): Promise<boolean> {
    while (performance.now() < until) {
      const op = await this.#call("write", object, owner);
      if (op.outcome === "ok") {
        this.#ctx.say(`probe ${k}: ${object} written through its new owner ${owner.name}`);
        return true;
      }
      this.#ctx.say(`probe ${k}: the write of ${object} through the new owner ${owner.name} failed (${op.outcome} ${JSON.stringify(op.reply ?? null)}); again`);
    }
    this.#ctx.say(`probe ${k}: no write of ${object} through ${owner.name} was acknowledged in time`);
    return false;
  }

  #skip(line: string): null {
    this.#ctx.say(`${line}; no probe this time`);
    return null;
  }

  /** One operation through `node`, recorded for the checker. */
  async #call(kind: Op["kind"], object: string, node: TestNode): Promise<Op> {
    const op: Op = { id: `probe-${this.#n++}`, kind, object, node: node.name, outcome: "error", invokedAt: performance.now() };
    this.objects.add(object);
    this.#ctx.record(op);
    try {
      const r = await node.get(kind === "write" ? `/w/${object}/${op.id}` : `/d/${object}`, this.#ctx.deadlineMs);
      op.reply = r.body;
      op.outcome = r.status === 200 && (kind === "write" || Array.isArray(r.body)) ? "ok" : "error";
    } catch (error) {
      op.outcome = /within/.test((error as Error).message) ? "timeout" : "error";
    }
    op.completedAt = performance.now();
    return op;
  }
}
