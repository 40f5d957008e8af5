import { Metrics, type ObjectInfo } from "@torpor/core";
import { expect, it } from "vitest";
import { prometheusText } from "./prometheus.ts";

const object = (state: ObjectInfo["state"], sockets: number): ObjectInfo => ({
  binding: "ROOMS",
  id: "00",
  name: "x",
  state,
  sockets,
  counters: { constructed: 1, woken: 0, evicted: 0, events: 0, errors: 0 },
  blockers: [],
  tags: {},
  lastEvent: null,
  alarm: null,
});

it("renders gauges and counters in the Prometheus text format", () => {
  const metrics = new Metrics();
  metrics.events.webSocketMessage = 7;
  metrics.wakes = 2;
  metrics.commits = 5;
  metrics.alarmRuns = 3;
  metrics.alarmRetries = 1;
  metrics.idleCollections = 2;
  metrics.idleCollectionMs = 150;
  const text = prometheusText({ metrics, objects: () => [object("live", 2), object("hibernated", 3), object("hibernated", 0)] });
  expect(text.endsWith("\n")).toBe(true);
  const lines = text.split("\n");
  for (const line of [
    "# TYPE torpor_objects gauge",
    'torpor_objects{state="live"} 1',
    'torpor_objects{state="hibernated"} 2',
    "torpor_websockets 5",
    "# TYPE torpor_events_total counter",
    'torpor_events_total{type="webSocketMessage"} 7',
    'torpor_events_total{type="fetch"} 0',
    "torpor_object_wakes_total 2",
    "torpor_storage_commits_total 5",
    "torpor_alarm_runs_total 3",
    "torpor_alarm_retries_total 1",
    "torpor_idle_gc_total 2",
    "torpor_idle_gc_seconds_total 0.15",
  ]) {
    expect(lines).toContain(line);
  }
  // Every sample belongs to a metric announced by HELP and TYPE.
  const announced = new Set(lines.filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]));
  for (const sample of lines.filter((l) => l !== "" && !l.startsWith("#"))) expect(announced).toContain(sample.split(/[{ ]/)[0]);
});
