/**
 * The admin endpoint of a cluster, served by the supervisor over all workers:
 * `GET /objects` lists every worker's objects (with a `worker` field),
 * `GET /metrics` gives each series per worker (label `worker`), and
 * `POST /objects/<binding>/<name>/hibernate` runs in the object's owner.
 */
import { hexFromName, slotOf } from "@torpor/core/cluster";
import type { DataDirLock } from "@torpor/storage-sqlite";
import { objectRow, type AdminBackend } from "../admin.ts";
import { lockCheck, readiness } from "../health.ts";
import { prometheusText } from "../prometheus.ts";
import type { Supervisor } from "./supervisor.ts";

export function clusterAdmin(supervisor: Supervisor, lock: DataDirLock): AdminBackend {
  return {
    async objects() {
      const stats = await supervisor.stats();
      return stats.flatMap((s) => s.objects.map((o) => objectRow(o, { worker: s.index })));
    },
    async metrics() {
      const stats = await supervisor.stats();
      // One worker (torpor dev) needs no label to tell its samples apart: the series read as for one process. Decided by
      // the cluster's size, not by who answered: a cluster with one worker not answering still labels the other's.
      return prometheusText(
        stats.map((s) => ({
          labels: supervisor.options.workers > 1 ? { worker: String(s.index) } : ({} as Record<string, string>),
          source: { metrics: s.metrics, objects: () => s.objects },
        })),
      );
    },
    // Ids are derived from the binding and the name alone, so the owner is known without loading the Worker.
    hibernate: (binding, name) => supervisor.hibernate(slotOf(hexFromName(binding, name)), binding, name),
    stats: async () => (await supervisor.stats()).map((s) => ({ worker: s.index, metrics: s.metrics, objects: s.objects })),
    ready: async () => readiness([lockCheck(lock), ...(await supervisor.health())]),
  };
}
