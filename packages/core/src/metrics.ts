/** Runtime-wide counters (exported in Prometheus format by the admin endpoint). */
export class Metrics {
  readonly events = { fetch: 0, rpc: 0, webSocketMessage: 0, webSocketClose: 0, webSocketError: 0, alarm: 0 };
  constructions = 0;
  wakes = 0;
  evictions = 0;
  autoResponses = 0;
  handlerErrors = 0;
  commits = 0;
  commitFailures = 0;
  alarmRuns = 0;
  alarmRetries = 0;
  /** Full garbage collections run because the process went idle after a burst (idle-collector.ts), and their CPU time (ms). */
  idleCollections = 0;
  idleCollectionMs = 0;
  /** Cluster workers: RPC references (functions, RpcTargets, stubs) this process holds for other worker processes now (a gauge). */
  rpcReferences = 0;
}

/** Per-object counters, as `runtime.inspect()` reports them. */
export interface ObjectCounters {
  /** Times the class constructor ran (first start and every wake). */
  constructed: number;
  /** Constructions after a hibernation or reset. */
  woken: number;
  /** Times the instance was dropped (hibernated). */
  evicted: number;
  /** Events delivered to the instance. */
  events: number;
  /** Handlers that threw. */
  errors: number;
}
