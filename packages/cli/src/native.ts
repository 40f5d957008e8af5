/**
 * @torpor/native (packages/native: descriptor passing and glibc's malloc_trim), an optional dependency compiled
 * at install, loaded once per process. Where it is not installed, did not build (no C compiler at install) or
 * does not load (built for another Node), each capability says why and its user falls back: a reload moves
 * sockets over Node's IPC, one at a time (cluster/fd-passing.ts); idle collections do not trim (native-memory.ts).
 */
import type { Logger } from "@torpor/core";
import type { Native } from "@torpor/native";

let loaded: Promise<Native> | null = null;

/** The addon's capabilities for this process, each or why not. */
export function loadNative(): Promise<Native> {
  loaded ??= import("@torpor/native").then(
    (native) => native.loadNative(),
    (error: Error) => {
      const missing = { ok: false, error: new Error(`@torpor/native is not installed (${error.message})`) } as const;
      return { fdPassing: missing, mallocTrim: missing };
    },
  );
  return loaded;
}

/** What each capability's absence costs, as the one line at start says it. */
const FALLBACKS: Record<keyof Native, string> = {
  fdPassing: "a reload moves sockets over Node IPC, one at a time",
  mallocTrim: "idle collections do not trim glibc's heaps",
};

/** Says once, when a server starts, which capabilities this process lacks and why (nothing when it has both). */
export async function warnWithoutNative(logger: Pick<Logger, "warn">): Promise<void> {
  const notice = nativeNotice(await loadNative());
  if (notice !== null) logger.warn(notice.message, { reason: notice.reason });
}

/** The line `warnWithoutNative` logs for `native`, or null when every capability loaded. */
export function nativeNotice(native: Native): { message: string; reason: string } | null {
  const missing = (Object.keys(FALLBACKS) as Array<keyof Native>).flatMap((name) => {
    const capability = native[name];
    return capability.ok ? [] : [{ fallback: FALLBACKS[name], reason: capability.error.message }];
  });
  if (missing.length === 0) return null;
  return {
    message: `@torpor/native did not load: ${missing.map((m) => m.fallback).join("; ")} (it needs python3, make and a C compiler at install)`,
    reason: [...new Set(missing.map((m) => m.reason))].join("; "),
  };
}
