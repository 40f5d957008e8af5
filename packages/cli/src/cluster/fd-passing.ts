/**
 * The fd-passing addon (packages/fd-passing, compiled at install) for this
 * process, or why there is none: not built (no C compiler at install), built
 * for another Node, or turned off with TORPOR_FD_PASSING=0. Without it a
 * reload moves sockets over Node's IPC, one acknowledged descriptor at a time,
 * as before the addon: slower (a process round trip per socket), not different.
 */
import type { FdPassing } from "@torpor/fd-passing";

export type FdPassingAvailability = { ok: true; addon: FdPassing } | { ok: false; reason: string };

let loaded: Promise<FdPassingAvailability> | null = null;

/** Loads the addon once per process. */
export function loadFdPassing(): Promise<FdPassingAvailability> {
  loaded ??= (async (): Promise<FdPassingAvailability> => {
    if (process.env.TORPOR_FD_PASSING === "0") return { ok: false, reason: "turned off by TORPOR_FD_PASSING=0" };
    try {
      const result = (await import("@torpor/fd-passing")).loadFdPassing();
      return result.ok ? { ok: true, addon: result.binding } : { ok: false, reason: `the addon is not built or does not load (${result.error.message})` };
    } catch (error) {
      return { ok: false, reason: `@torpor/fd-passing is not installed (${(error as Error).message})` };
    }
  })();
  return loaded;
}
