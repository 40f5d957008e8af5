/**
 * The addon's descriptor passing (@torpor/native, loaded by ../native.ts) for
 * this process, or why there is none: not built (no C compiler at install),
 * built for another Node, or turned off with TORPOR_FD_PASSING=0. Without it a
 * reload moves sockets over Node's IPC, one acknowledged descriptor at a time,
 * as before the addon: slower (a process round trip per socket), not different.
 */
import type { FdPassing } from "@torpor/native";
import { loadNative } from "../native.ts";

export type FdPassingAvailability = { ok: true; addon: FdPassing } | { ok: false; reason: string };

/** The addon's descriptor passing, or why not (the addon is loaded once per process). */
export async function loadFdPassing(): Promise<FdPassingAvailability> {
  if (process.env.TORPOR_FD_PASSING === "0") return { ok: false, reason: "turned off by TORPOR_FD_PASSING=0" };
  const { fdPassing } = await loadNative();
  return fdPassing.ok ? { ok: true, addon: fdPassing.binding } : { ok: false, reason: fdPassing.error.message };
}
