/**
 * The table of a node of several machines before it joined the cluster. Kept
 * apart from node-membership.ts, which loads the PostgreSQL client: a
 * supervisor imports that only once it joins (start.ts).
 */
import { SLOT_COUNT } from "@torpor/core/slots";
import type { NodeTable } from "./node-membership.ts";

/** The table of a node that has not joined yet: no slot, and a deadline already past (nothing may leave). */
export function unjoinedTable(nodeId: string): NodeTable {
  return {
    nodeId,
    slots: new Array(SLOT_COUNT).fill(-1),
    epochs: new Array(SLOT_COUNT).fill(0),
    remote: new Array(SLOT_COUNT).fill(null),
    deadline: 0,
  };
}
