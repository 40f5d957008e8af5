import type { ObjectInfo, Metrics } from "@torpor/core";

/** What the metrics text is made from (a Runtime has both). */
export interface MetricsSource {
  readonly metrics: Metrics;
  objects(): ObjectInfo[];
}

/**
 * Renders the runtime's gauges and counters in the Prometheus text
 * exposition format (version 0.0.4).
 */
export function prometheusText(source: MetricsSource): string {
  const objects = source.objects();
  let live = 0;
  let sockets = 0;
  for (const o of objects) {
    if (o.state === "live") live++;
    sockets += o.sockets;
  }
  const m = source.metrics;
  const lines: string[] = [];
  const metric = (name: string, type: "gauge" | "counter", help: string, samples: Array<[labels: string, value: number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric("torpor_objects", "gauge", "Durable Objects hosted since start, by lifecycle state.", [
    ['{state="live"}', live],
    ['{state="hibernated"}', objects.length - live],
  ]);
  metric("torpor_websockets", "gauge", "Open hibernatable WebSockets.", [["", sockets]]);
  metric(
    "torpor_events_total",
    "counter",
    "Events delivered to objects, by type.",
    Object.entries(m.events).map(([type, n]) => [`{type="${type}"}`, n]),
  );
  metric("torpor_object_constructions_total", "counter", "Times an object's constructor ran (first start and every wake).", [["", m.constructions]]);
  metric("torpor_object_wakes_total", "counter", "Constructions after a hibernation.", [["", m.wakes]]);
  metric("torpor_object_evictions_total", "counter", "Times an object hibernated (its instance was dropped).", [["", m.evictions]]);
  metric("torpor_websocket_auto_responses_total", "counter", "Messages answered by the auto-response without waking the object.", [["", m.autoResponses]]);
  metric("torpor_handler_errors_total", "counter", "Handlers that threw.", [["", m.handlerErrors]]);
  metric("torpor_storage_commits_total", "counter", "Storage commits.", [["", m.commits]]);
  metric("torpor_storage_commit_failures_total", "counter", "Storage commits that failed.", [["", m.commitFailures]]);
  metric("torpor_alarm_runs_total", "counter", "alarm() handler runs, retries included.", [["", m.alarmRuns]]);
  metric("torpor_alarm_retries_total", "counter", "alarm() runs that were retries after a failure.", [["", m.alarmRetries]]);
  return `${lines.join("\n")}\n`;
}
