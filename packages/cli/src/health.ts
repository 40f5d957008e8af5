/**
 * Health for load balancers and orchestrators, served by the admin endpoint:
 * `GET /healthz` answers while the process runs its event loop; `GET /readyz`
 * answers 200 only when the server can serve: it holds the data-directory
 * lock, every worker is up and serving, and storage opens. A failure is a
 * 503 whose body lists each check and says why the failed ones failed.
 */
import type { Runtime } from "@torpor/core";
import type { DataDirLock, SqliteStorageProvider } from "@torpor/storage-sqlite";

/** One readiness check: what was checked, whether it passed, and why not. */
export interface ReadyCheck {
  name: "lock" | "workers" | "storage";
  ok: boolean;
  /** What was found (the reason, when it failed). */
  detail: string;
}

/** The `/readyz` answer. */
export interface Readiness {
  ready: boolean;
  checks: ReadyCheck[];
}

/** What one process checks about itself: its runtime serves and its storage opens. */
export function runtimeChecks(runtime: Runtime, storage: Pick<SqliteStorageProvider, "probe">, label = `the server (pid ${process.pid})`): ReadyCheck[] {
  const serving = !runtime.closed && runtime.server !== null;
  const problem = storage.probe();
  return [
    { name: "workers", ok: serving, detail: serving ? `${label} is serving` : `${label} is shutting down` },
    { name: "storage", ok: problem === null, detail: problem ?? "a scratch database opens and the alarm index answers" },
  ];
}

/** The lock check, from the process holding it (one process, or a cluster's supervisor). */
export function lockCheck(lock: DataDirLock | null): ReadyCheck {
  if (lock === null) return { name: "lock", ok: true, detail: "held by the cluster supervisor" };
  const problem = lock.problem();
  return { name: "lock", ok: problem === null, detail: problem ?? `holding the lock on ${lock.dir}` };
}

/** Folds checks of the same name (one per worker) into the answer. */
export function readiness(checks: ReadyCheck[]): Readiness {
  return { ready: checks.every((c) => c.ok), checks };
}
