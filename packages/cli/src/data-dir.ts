/**
 * Taking the data directory before anything runs: a second server on the same directory would corrupt the
 * first one's objects. One process, a cluster's supervisor (for all its workers) and `torpor dev` all take it here.
 */
import type { Logger } from "@torpor/core";
import { type DataDirLock, lockDataDirWhenFree } from "@torpor/storage-sqlite/data-dir-lock";
import { DEFAULT_CLUSTER_TIMEOUTS } from "./cluster/cluster-timeouts.ts";

/**
 * Locks `persistTo` once no process of an earlier server uses it: workers of a supervisor that was killed
 * finish and exit by themselves, so this waits for them (bounded, with a warning) rather than open files beside them.
 */
export function holdDataDir(persistTo: string, logger: Logger): Promise<DataDirLock> {
  const waitMs = DEFAULT_CLUSTER_TIMEOUTS.lockWaitMs;
  return lockDataDirWhenFree(persistTo, waitMs, (reason) => logger.warn("Waiting for the data directory", { reason, waitMs }));
}
