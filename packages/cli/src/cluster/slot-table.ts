/**
 * Which worker index owns each slot of the id space, held by the supervisor
 * and written to `<persist-to>/cluster/slots.json` (atomically: temp file
 * and rename), so a restarted worker, a reload and the next start keep
 * objects where their data was last opened.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SLOT_COUNT } from "@torpor/core/slots";

/** `slots[s]` is the index of the worker owning slot `s`. */
export interface SlotTable {
  workers: number;
  slots: number[];
}

/** Reads the saved table, keeping assignments to indexes that still exist and spreading the rest evenly. */
export function loadSlotTable(dir: string, workers: number): SlotTable {
  let saved: number[] = [];
  const file = join(dir, "slots.json");
  if (existsSync(file)) {
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as { slots?: unknown };
      if (Array.isArray(parsed.slots) && parsed.slots.length === SLOT_COUNT) saved = parsed.slots as number[];
    } catch {
      // A damaged table is rebuilt: ownership is a placement choice, the data does not depend on it.
    }
  }
  const slots = new Array<number>(SLOT_COUNT).fill(-1);
  const load = new Array<number>(workers).fill(0);
  const fair = Math.ceil(SLOT_COUNT / workers);
  for (let s = 0; s < SLOT_COUNT; s++) {
    const owner = saved[s];
    if (Number.isInteger(owner) && owner! >= 0 && owner! < workers && load[owner!]! < fair) {
      slots[s] = owner!;
      load[owner!]!++;
    }
  }
  for (let s = 0; s < SLOT_COUNT; s++) {
    if (slots[s] !== -1) continue;
    const least = load.indexOf(Math.min(...load));
    slots[s] = least;
    load[least]!++;
  }
  return { workers, slots };
}

/** Writes the table so it survives restarts. */
export function saveSlotTable(dir: string, table: SlotTable): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "slots.json");
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ workers: table.workers, slots: table.slots })}\n`);
  renameSync(`${file}.tmp`, file);
}
