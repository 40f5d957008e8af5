/**
 * glibc's `malloc_trim(0)`, from a native addon built when the package installs (node-gyp). A process that
 * freed much native memory (a flood of sockets that closed: their buffers, handles and parsers) keeps it in
 * glibc's arenas until something trims them; Torpor's idle collector calls this after each of its collections.
 */
import { createRequire } from "node:module";

/** The addon's `trim` (true if memory went back to the OS), or null where it was not built (no compiler at install, not Linux). */
export function loadMallocTrim(): (() => boolean) | null {
  try {
    // The same path from src/ and from dist/.
    return (createRequire(import.meta.url)("../build/Release/malloc_trim.node") as { trim: () => boolean }).trim;
  } catch {
    return null;
  }
}
