import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Logger, Runtime, silentLogger } from "@torpor/core";
import { onTestFinished } from "vitest";
import { sqliteStorage } from "../src/index.ts";
import { injectFsyncFault } from "../src/wal-sync.ts";

/** Releases of the fsyncs a test holds (see `holdFsyncsOf`); each test file has its own. */
export const holding: Array<() => void> = [];

/** Lets every held fsync go on. */
export function releaseHeld(): void {
  for (const release of holding.splice(0)) release();
}

/**
 * The output-gate tests' set-up: `objects` on SQLite storage in a fresh
 * directory, and the name of the WAL of object "a" of class A, whose fsyncs a
 * test holds or fails through the provider's fsync hook. When the test ends,
 * the hook is removed, held fsyncs go on, the runtime closes and the directory
 * goes.
 */
export function startOnHeldDisk(
  objects: ConstructorParameters<typeof Runtime>[0]["objects"],
  prefix: string,
  logger: Logger = silentLogger,
): { runtime: Runtime; aWal: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const runtime = new Runtime({ objects, storage: sqliteStorage({ dir }), logger });
  onTestFinished(async () => {
    injectFsyncFault(null);
    releaseHeld();
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { runtime, aWal: `${runtime.namespace("A").idFromName("a").toString()}.sqlite-wal` };
}
