// The addon (src/fd_passing.c), or why it could not be loaded: not built (no compiler at install), or built
// for another Node. Callers fall back to Node's IPC then.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** @returns {import("./index.d.ts").Loaded} */
export function loadFdPassing(path = "./build/Release/fd_passing.node") {
  try {
    return { ok: true, binding: require(path) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** The kernel's limit of descriptors in one message (SCM_MAX_FD). */
export const MAX_FDS_PER_PACKET = 253;
