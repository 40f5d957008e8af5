/**
 * The admin endpoint of a cluster, served by the supervisor over all workers:
 * `GET /objects` lists every worker's objects (with a `worker` field),
 * `GET /metrics` gives each series per worker (label `worker`), and
 * `POST /objects/<binding>/<name>/hibernate` runs in the object's owner.
 */
import { hexFromName, slotOf } from "@torpor/core/cluster";
import { objectRow, type AdminBackend } from "../admin.ts";
import { prometheusText } from "../prometheus.ts";
import type { Supervisor } from "./supervisor.ts";

export function clusterAdmin(supervisor: Supervisor): AdminBackend {
  return {
    async objects() {
      const stats = await supervisor.stats();
      return stats.flatMap((s) => s.objects.map((o) => objectRow(o, { worker: s.index })));
    },
    async metrics() {
      const stats = await supervisor.stats();
      return prometheusText(stats.map((s) => ({ labels: { worker: String(s.index) }, source: { metrics: s.metrics, objects: () => s.objects } })));
    },
    // Ids are derived from the binding and the name alone, so the owner is known without loading the Worker.
    hibernate: (binding, name) => supervisor.hibernate(slotOf(hexFromName(binding, name)), binding, name),
  };
}
