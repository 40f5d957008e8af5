import type { ObjectInfo, Metrics } from "@torpor/core";

/** What the metrics text is made from (a Runtime has both). */
export interface MetricsSource {
  readonly metrics: Metrics;
  objects(): ObjectInfo[];
}

/** One source among several (cluster workers), with the labels that tell its samples apart. */
export interface LabelledSource {
  labels: Record<string, string>;
  source: MetricsSource;
}

/**
 * Renders the runtime's gauges and counters in the Prometheus text
 * exposition format (version 0.0.4). Several sources (the workers of a
 * cluster) give one sample each per series, told apart by their labels.
 */
export function prometheusText(input: MetricsSource | readonly LabelledSource[]): string {
  const sources: readonly LabelledSource[] = Array.isArray(input) ? input : [{ labels: {}, source: input as MetricsSource }];
  const lines: string[] = [];
  const views = sources.map(({ labels, source }) => {
    const objects = source.objects();
    let live = 0;
    let sockets = 0;
    for (const o of objects) {
      if (o.state === "live") live++;
      sockets += o.sockets;
    }
    return { labels, m: source.metrics, objects, live, sockets };
  });
  const metric = (name: string, type: "gauge" | "counter", help: string, samplesOf: (v: (typeof views)[number]) => Array<[labels: string, value: number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const view of views) {
      const extra = Object.entries(view.labels).map(([k, v]) => `${k}="${v}"`);
      for (const [labels, value] of samplesOf(view)) {
        const all = [...(labels === "" ? [] : [labels.slice(1, -1)]), ...extra];
        lines.push(`${name}${all.length > 0 ? `{${all.join(",")}}` : ""} ${value}`);
      }
    }
  };
  metric(
    "torpor_objects",
    "gauge",
    "Durable Objects held in memory (live, or hibernated with sockets, an alarm or events queued), by lifecycle state.",
    ({ live, objects }) => [
      ['{state="live"}', live],
      ['{state="hibernated"}', objects.length - live],
    ],
  );
  metric("torpor_websockets", "gauge", "Open hibernatable WebSockets.", ({ sockets }) => [["", sockets]]);
  metric("torpor_events_total", "counter", "Events delivered to objects, by type.", ({ m }) =>
    Object.entries(m.events).map(([type, n]) => [`{type="${type}"}`, n]),
  );
  metric("torpor_object_constructions_total", "counter", "Times an object's constructor ran (first start and every wake).", ({ m }) => [["", m.constructions]]);
  metric("torpor_object_wakes_total", "counter", "Constructions after a hibernation.", ({ m }) => [["", m.wakes]]);
  metric("torpor_object_evictions_total", "counter", "Times an object hibernated (its instance was dropped).", ({ m }) => [["", m.evictions]]);
  metric("torpor_websocket_auto_responses_total", "counter", "Messages answered by the auto-response without waking the object.", ({ m }) => [
    ["", m.autoResponses],
  ]);
  metric("torpor_handler_errors_total", "counter", "Handlers that threw.", ({ m }) => [["", m.handlerErrors]]);
  metric("torpor_storage_commits_total", "counter", "Storage commits.", ({ m }) => [["", m.commits]]);
  metric("torpor_storage_commit_failures_total", "counter", "Storage commits that failed.", ({ m }) => [["", m.commitFailures]]);
  metric("torpor_alarm_runs_total", "counter", "alarm() handler runs, retries included.", ({ m }) => [["", m.alarmRuns]]);
  metric("torpor_alarm_retries_total", "counter", "alarm() runs that were retries after a failure.", ({ m }) => [["", m.alarmRetries]]);
  metric(
    "torpor_idle_gc_total",
    "counter",
    "Full garbage collections run once the process went idle after a burst, so memory goes back to the OS.",
    ({ m }) => [["", m.idleCollections]],
  );
  metric("torpor_idle_gc_seconds_total", "counter", "CPU time of those collections (the process's, GC helper threads included).", ({ m }) => [
    ["", m.idleCollectionMs / 1000],
  ]);
  metric(
    "torpor_rpc_references",
    "gauge",
    "Functions, RpcTargets and stubs this worker process holds for another worker process's stubs (cluster mode).",
    ({ m }) => [["", m.rpcReferences ?? 0]],
  );
  return `${lines.join("\n")}\n`;
}
