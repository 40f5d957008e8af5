// The differential tests' known differences: each pins what workerd and Torpor
// observe at one path and names its row of docs/compatibility.md. Checking one
// both ways and masking it before the whole observations are compared is the
// same for every suite that keys its differences by path.
import { expect } from "vitest";

/** One pinned difference between workerd and Torpor. */
export interface KnownDifference {
  /** The docs/compatibility.md row that says so. */
  doc: string;
  /** Path into the observations; the first element is the scenario (or route, or case) it belongs to. */
  path: (string | number)[];
  workerd: unknown;
  torpor: unknown;
}

/** The value at `path` inside `value` (undefined where the path leaves it). */
function at(value: unknown, path: (string | number)[]): unknown {
  let v = value as Record<string | number, unknown> | undefined;
  for (const key of path) v = v?.[key] as Record<string | number, unknown> | undefined;
  return v;
}

function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): void {
  const parent = at(value, path.slice(0, -1)) as Record<string | number, unknown> | undefined;
  if (parent !== undefined && parent !== null) parent[path.at(-1)!] = replacement;
}

/**
 * Expects each known difference of `key` to hold exactly on both sides (so a
 * stale entry fails), then masks it in `w` and `t` (copies the caller made),
 * so the caller can compare what is left with one toEqual.
 */
export function maskKnown(known: readonly KnownDifference[], key: string, w: unknown, t: unknown): void {
  for (const entry of known.filter((k) => k.path[0] === key)) {
    const rest = entry.path.slice(1);
    const where = `${entry.path.join(".")} (${entry.doc})`;
    expect(at(w, rest), `workerd at ${where}: update or remove the KNOWN entry`).toEqual(entry.workerd);
    expect(at(t, rest), `torpor at ${where}: update or remove the KNOWN entry`).toEqual(entry.torpor);
    replaceAt(w, rest, `<known: ${entry.doc}>`);
    replaceAt(t, rest, `<known: ${entry.doc}>`);
  }
}
