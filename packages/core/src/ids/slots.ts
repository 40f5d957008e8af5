/**
 * The id space is cut into a fixed number of slots; ownership is assigned
 * per slot, never per object, so the assignment is a small table that can
 * be written down, handed over and (on several machines) leased with an
 * epoch per slot. Ids are SHA-256 or random hex, so the first two hex
 * digits spread objects evenly.
 */
export const SLOT_COUNT = 256;

/** The slot of an object id (64 hex characters). */
export function slotOf(id: string): number {
  return Number.parseInt(id.slice(0, 2), 16);
}
