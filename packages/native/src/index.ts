/**
 * The addon (src/native.c, built by node-gyp when the package installs) and its two capabilities, each
 * optional: descriptor passing (SCM_RIGHTS, for torpor start's reloads) and glibc's `malloc_trim(0)` (after
 * idle collections). Where the addon is not there (no compiler at install, not Linux) or does not load (built
 * for another Node), each capability says why, and its caller falls back.
 */
import { createRequire } from "node:module";
import type { FdPassing } from "./fd-passing.ts";

export { type FdPassing, MAX_FDS_PER_PACKET, type Watcher } from "./fd-passing.ts";

/** glibc's `malloc_trim(0)` (src/malloc_trim.c). */
export interface MallocTrim {
  /** True if memory went back to the OS; false if none did, or the C library has no `malloc_trim`. */
  trim(): boolean;
}

/** A capability of the addon, or why this process has none. */
export type Capability<T> = { ok: true; binding: T } | { ok: false; error: Error };

export interface Native {
  fdPassing: Capability<FdPassing>;
  mallocTrim: Capability<MallocTrim>;
}

/** The addon's capabilities, each or why not. `path`: another build, for tests (relative to src/ and dist/ alike). */
export function loadNative(path = "../build/Release/torpor_native.node"): Native {
  try {
    const addon = createRequire(import.meta.url)(path) as { fdPassing: FdPassing; mallocTrim: MallocTrim };
    return { fdPassing: { ok: true, binding: addon.fdPassing }, mallocTrim: { ok: true, binding: addon.mallocTrim } };
  } catch (error) {
    // The first line: Node adds the require stack below, which the cause keeps.
    const why = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    const missing = { ok: false, error: new Error(`@torpor/native is not built or does not load (${why})`, { cause: error }) } as const;
    return { fdPassing: missing, mallocTrim: missing };
  }
}
