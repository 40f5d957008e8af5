/**
 * Where this process writes the Worker bundles it builds or has built for it (worker-bundle.ts): a folder of
 * its own, removed when it exits. A cluster supervisor owns the folder its preparation process writes into.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let privateDir: string | null = null;

/** A folder of this process's own, removed when it exits. */
export function processBundleDir(): string {
  if (privateDir === null) {
    const dir = mkdtempSync(join(tmpdir(), "torpor-worker-"));
    privateDir = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return privateDir;
}
