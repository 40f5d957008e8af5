import type { Socket } from "node:net";
import { TorporError } from "../errors.ts";
import { ExecutionContext } from "../object/execution-context.ts";
import { isolateFaults, runAs, type FaultOwner } from "../object/fault-isolation.ts";
import { followObjectTimers } from "../object/object-timers.ts";
import { installGlobals } from "../http/globals.ts";
import type { DurableObjectId } from "../ids/id.ts";
import { memoryStorage } from "../storage/memory-storage.ts";
import { Metrics, type ObjectCounters } from "../metrics.ts";
import { DurableObjectNamespace, type NamespaceKey } from "../stubs/namespace.ts";
import type { DurableObjectClass, HostRuntime, ObjectHost, ObjectLifecycle } from "../object/object-host.ts";
import { everythingLocal, Placement, type ObjectTarget, type PlacedNamespace } from "../placement/placement.ts";
import { resolveOptions, type ResolvedOptions, type RuntimeOptions } from "./runtime-options.ts";
import { setAutoReplyToCloseDefault } from "../websocket/socket-end.ts";
import type { Logger } from "../logger.ts";
import { jsonError, Response } from "../http/response.ts";
import { startServer, type ListenOptions, type RunningServer } from "../http/server.ts";
import type { ObjectKey, StorageProvider } from "../storage/storage-provider.ts";
import type { SocketEnd } from "../websocket/socket-end.ts";

import { IdleCollector } from "../idle-collector.ts";

export type { ObjectTarget } from "../placement/placement.ts";

/** The Worker entry: `export default { fetch }`. */
export type WorkerFetch = (
  request: Request,
  env: Record<string, unknown>,
  ctx: ExecutionContext,
) => Response | globalThis.Response | Promise<Response | globalThis.Response>;

/** What `runtime.inspect()` tells about one object. */
export interface ObjectInfo {
  binding: string;
  id: string;
  name: string | undefined;
  state: ObjectLifecycle;
  /** Open hibernatable WebSockets. */
  sockets: number;
  counters: ObjectCounters;
  /** Why it cannot hibernate right now (empty when it can). */
  blockers: string[];
  /** How many of its hibernatable sockets carry each tag. */
  tags: Record<string, number>;
  /** The last event delivered to an instance (`call` is a fetch or an RPC call), with its time (the runtime's clock, ms); null before the first. */
  lastEvent: { kind: string; at: number } | null;
  /** When its armed alarm fires (ms since the epoch), or null. */
  alarm: number | null;
}

/**
 * Runs Durable Object classes and a Worker entry: namespaces, stubs, the
 * per-object gate, hibernation, alarms, and (with `listen`) the HTTP and
 * WebSocket server.
 *
 * @example
 * const runtime = new Runtime({ objects: { ROOMS: Room }, fetch: worker.fetch });
 * const { url } = await runtime.listen({ port: 8787 });
 * // … later
 * await runtime.close();
 */
export class Runtime implements HostRuntime {
  readonly options: ResolvedOptions;
  readonly provider: StorageProvider;
  readonly metrics = new Metrics();
  /** The Worker's `env`: namespaces by binding name, plus `options.env`. */
  readonly env: Record<string, unknown>;
  /**
   * `ctx.exports`: each object class's namespace under the class's name, plus
   * `options.exports` (the CLI adds the Worker's entrypoints there).
   */
  readonly exports: Record<string, unknown>;
  readonly #namespaces = new Map<string, PlacedNamespace>();
  /** The same entries by storage name (what ids and stored keys carry). */
  readonly #byStorageName = new Map<string, PlacedNamespace>();
  /** Where objects live, and their hosts in this process. */
  readonly #placement: Placement;
  readonly #waitUntil = new Set<Promise<unknown>>();
  #server: RunningServer | null = null;
  #collector: IdleCollector | null = null;
  #closed = false;
  /** Stops following object timers (object-timers.ts) once this runtime closes. */
  readonly #unfollowTimers = followObjectTimers();
  /** Faults escaping Worker-level code: logged; the Worker keeps no state of ours, so the process goes on. */
  readonly #worker: FaultOwner = {
    uncaughtException: (error) => {
      this.metrics.handlerErrors++;
      this.options.logger.error("Uncaught exception in the Worker's code (the server keeps running)", { error });
    },
    unhandledRejection: (reason) => {
      this.metrics.handlerErrors++;
      this.options.logger.error("Unhandled promise rejection (the server keeps running)", { error: reason });
    },
  };

  constructor(options: RuntimeOptions) {
    this.options = resolveOptions(options);
    if (this.options.installGlobals) installGlobals();
    // Sockets no object owns (the Worker's own, outbound clients) follow the last runtime's compatibility date.
    setAutoReplyToCloseDefault(this.options.compatibility.webSocketAutoReplyToClose);
    this.provider = this.options.storage ?? memoryStorage();
    const env: Record<string, unknown> = { ...this.options.env };
    const exports: Record<string, unknown> = {};
    const placement = new Placement(this, this.options.directory ?? everythingLocal, this.#byStorageName, this.options.maxLiveObjects);
    this.#placement = placement;
    const self = { target: (ns: NamespaceKey, id: DurableObjectId) => placement.target(ns, id) };
    for (const [binding, cls] of Object.entries(this.options.objects)) {
      const namespace = new DurableObjectNamespace(self, binding, binding);
      const entry = { namespace, cls: cls as unknown as DurableObjectClass };
      this.#namespaces.set(binding, entry);
      this.#byStorageName.set(namespace.storageName, entry);
      env[binding] = namespace;
      exports[cls.name] ??= namespace;
    }
    this.env = env;
    this.exports = Object.assign(exports, this.options.exports);
    this.scheduleStoredAlarms();
  }

  /** The namespace bound as `binding`. */
  namespace<T = Record<string, unknown>>(binding: string): DurableObjectNamespace<T> {
    const entry = this.#namespaces.get(binding);
    if (entry === undefined) {
      throw new TorporError(
        "ERR_UNKNOWN_BINDING",
        `No Durable Object binding "${binding}"; the bindings are: ${[...this.#namespaces.keys()].join(", ") || "(none)"}.`,
      );
    }
    return entry.namespace as DurableObjectNamespace<T>;
  }

  /** Dispatches a request to the Worker entry (in process, no network). */
  async fetch(input: Request | string | URL, init?: RequestInit): Promise<Response | globalThis.Response> {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const ctx = this.executionContext();
    const handler = this.options.fetch as WorkerFetch | undefined;
    if (handler !== undefined) return runAs(this.#worker, handler, request, this.env, ctx);
    return this.route(request);
  }

  /** A fresh `ExecutionContext` (the Worker entry's `ctx`): its `waitUntil` work is tracked for shutdown. */
  executionContext(): ExecutionContext {
    return new ExecutionContext(this.#waitUntil, (error) => this.options.logger.error("A waitUntil() promise rejected", { error }), this.exports);
  }

  /**
   * The routing used without a Worker entry: `/<BINDING>/<name>/…` goes to
   * the object named `name` (404 `ERR_UNKNOWN_OBJECT` otherwise), so objects
   * are reachable with no routing code.
   */
  route(request: Request): Promise<Response | globalThis.Response> | Response {
    const path = new URL(request.url).pathname;
    const [, rawBinding = "", rawName = ""] = path.split("/");
    let binding: string;
    let name: string;
    try {
      binding = decodeURIComponent(rawBinding);
      name = decodeURIComponent(rawName);
    } catch {
      return jsonError(400, "ERR_BAD_REQUEST", `The path ${path} is not valid %-encoding.`);
    }
    const entry = this.#namespaces.get(binding);
    if (entry === undefined || name === "") {
      return jsonError(
        404,
        "ERR_UNKNOWN_OBJECT",
        `No object route for ${path}. Use /<binding>/<name>/…; bindings: ${[...this.#namespaces.keys()].join(", ")}.`,
      );
    }
    return entry.namespace.getByName(name).fetch(request);
  }

  /** Starts the HTTP/WebSocket server (127.0.0.1 and port 8787 by default; port 0 picks a free port). */
  async listen(options: ListenOptions = {}): Promise<{ port: number; host: string; url: string }> {
    if (this.#closed) throw new TorporError("ERR_RUNTIME_CLOSED", "This runtime was closed; create a new one.");
    if (this.#server !== null) throw new TorporError("ERR_SERVER_LISTENING", `Already listening on ${this.#server.url}.`);
    this.#server = await startServer(this, options);
    serve(this);
    if (this.options.idleCollection) {
      const metrics = this.metrics;
      this.#collector = new IdleCollector({
        clock: this.options.clock,
        logger: this.options.logger,
        // What leaves garbage behind: dropped instances and closed sockets.
        releases: () => metrics.evictions + metrics.events.webSocketClose,
        // Loading the Worker and the runtime leaves garbage and a grown young generation (per cluster worker).
        afterStart: true,
        // A burst's objects hibernate hibernateAfterMs after their last event: collect once they have, not between.
        liveObjects: () => this.#placement.table.liveCount,
        liveWaitMs: Math.min(this.options.hibernateAfterMs, 10_000) + 2_000,
        onCollection: ({ cpuMs }) => {
          metrics.idleCollections++;
          metrics.idleCollectionMs += cpuMs;
        },
      });
      this.#collector.start();
    }
    return { port: this.#server.port, host: this.#server.host, url: this.#server.url };
  }

  /** Forces an object to hibernate now (after in-flight events finish). Throws ERR_NOT_HIBERNATABLE with the reasons when something pins it. */
  async hibernate(target: ObjectTarget): Promise<void> {
    const host = this.#hostOf(target);
    await host.drained();
    const blockers = host.hibernate();
    if (blockers.length > 0) {
      throw new TorporError("ERR_NOT_HIBERNATABLE", `Object ${host.key.name ?? host.key.id} cannot hibernate: ${blockers.join("; ")}.`);
    }
  }

  /** Hibernates every live object that can; returns how many did. */
  async hibernateAll(): Promise<number> {
    let count = 0;
    for (const host of this.#placement.table.live()) {
      await host.drained();
      if (host.instance !== null && host.hibernate().length === 0) count++;
    }
    return count;
  }

  /** Lifecycle state, sockets and counters of one object. */
  inspect(target: ObjectTarget): ObjectInfo {
    return this.#info(this.#hostOf(target));
  }

  /**
   * The objects this runtime holds: live, or hibernated with sockets, an alarm or events queued.
   * `{ all: true }` adds hibernated objects that hold nothing but are still referenced (a stub in
   * use, or garbage not yet collected): which of those are listed depends on the garbage collector.
   */
  objects(options: { all?: boolean } = {}): ObjectInfo[] {
    const table = this.#placement.table;
    return (options.all === true ? table.all() : table.kept()).map((h) => this.#info(h));
  }

  /** Fires the object's pending alarm now; resolves with whether `alarm()` ran. */
  runAlarm(target: ObjectTarget): Promise<boolean> {
    return this.#hostOf(target).runAlarmNow();
  }

  /** @internal the host behind a stub or id (for @torpor/testing). */
  hostFor(target: ObjectTarget): ObjectHost {
    return this.#hostOf(target);
  }

  /**
   * Graceful shutdown: stop accepting connections, let in-flight events
   * finish, commit storage, close sockets with 1012 ("service restart") so
   * clients reconnect, then release storage.
   */
  async close(options: { code?: number; reason?: string } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#placement.close();
    const server = this.#server;
    this.#server = null;
    server?.stopAccepting();
    this.#collector?.stop();
    await Promise.all(this.#placement.table.all().map((h) => h.shutdown(options.code ?? 1012, options.reason ?? "Server restarting")));
    await Promise.allSettled([...this.#waitUntil]);
    await server?.close();
    unserve(this);
    this.#unfollowTimers();
    this.#placement.table.clearLive();
    this.provider.close();
  }

  /** @internal the idle collector while serving (its counts are metrics). */
  get collector(): IdleCollector | null {
    return this.#collector;
  }

  /** @internal the running server (cluster workers hand it connections). */
  get server(): RunningServer | null {
    return this.#server;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** HostRuntime: the instance was constructed or handled an event (LRU bookkeeping). */
  touched(host: ObjectHost): void {
    this.#placement.table.touched(host);
  }

  /** HostRuntime: the instance was dropped. */
  released(host: ObjectHost): void {
    this.#placement.table.released(host);
  }

  /** HostRuntime: serves a socket that moved in from another process (needs the server: `listen()`). */
  resumeSocket(socket: Socket, unparsed: Buffer, end: SocketEnd): void {
    if (this.#server === null)
      throw new TorporError(
        "ERR_NOT_LISTENING",
        "A WebSocket moved in from another process can only be adopted while this runtime serves: call listen() first.",
      );
    this.#server.resume(socket, unparsed, end);
  }

  /**
   * @internal the host of an object this process owns, by key (cluster
   * workers serving routed calls). `adopting`: the object is moving in and
   * not yet owned (its sockets arrive before its calls).
   */
  hostForKey(key: ObjectKey, adopting = false): ObjectHost {
    return this.#placement.hostForKey(key, adopting);
  }

  /** @internal every host in memory (cluster workers moving objects out). */
  hosts(): ObjectHost[] {
    return this.#placement.table.all();
  }

  /** @internal forgets a host that moved to another process. */
  forget(host: ObjectHost): void {
    this.#placement.table.forget(host);
  }

  #hostOf(target: ObjectTarget): ObjectHost {
    return this.#placement.hostFor(target);
  }

  #info(host: ObjectHost): ObjectInfo {
    return {
      binding: this.#byStorageName.get(host.key.namespace)?.namespace.binding ?? host.key.namespace,
      id: host.key.id,
      name: host.key.name,
      state: host.lifecycle,
      sockets: host.sockets.size,
      counters: { ...host.counters },
      blockers: host.instance === null ? [] : host.blockers(),
      tags: host.sockets.tagCounts(),
      lastEvent: host.lastEventKind === null ? null : { kind: host.lastEventKind, at: host.lastEventAt },
      alarm: host.alarmAt,
    };
  }

  /**
   * Schedules the persisted alarms of the objects this process hosts (those
   * the host directory calls local; `only` narrows further, for objects a
   * cluster worker just took over), without opening the objects.
   */
  scheduleStoredAlarms(only?: (key: ObjectKey) => boolean): void {
    this.#placement.restoreAlarms(this.provider.listAlarms(), only);
  }
}

/**
 * Runtimes serving traffic. While one serves, exceptions and rejections that
 * escape object code are attributed to their object (fault-isolation.ts): an
 * uncaught exception resets that object only, an unhandled rejection is
 * logged (as Cloudflare does) and the object goes on. Worker-level code holds
 * no state of ours, so its faults are logged and the process goes on. A fault
 * outside any object and the Worker (Torpor itself, or the embedding
 * application) leaves the process in an unknown state: it is logged and the
 * process exits with code 1 (acknowledged writes are durable; restart it),
 * unless the application handles 'uncaughtException' itself.
 */
const serving = new Set<Runtime>();
let stopIsolating: (() => void) | null = null;

function logger(): Logger | undefined {
  return serving.values().next().value?.options.logger;
}

const unowned = {
  uncaughtException(error: unknown): void {
    logger()?.error("Uncaught exception outside any Durable Object or Worker code; exiting (the process state is unknown)", { error });
    // Ours is not the only listener: the application decides.
    if (process.listenerCount("uncaughtException") > 1) return;
    process.exit(1);
  },
  unhandledRejection(reason: unknown): void {
    const runtime = serving.values().next().value;
    if (runtime === undefined) return;
    runtime.metrics.handlerErrors++;
    runtime.options.logger.error("Unhandled promise rejection (the server keeps running)", { error: reason });
  },
};

function serve(runtime: Runtime): void {
  if (serving.size === 0) stopIsolating = isolateFaults(unowned);
  serving.add(runtime);
}

function unserve(runtime: Runtime): void {
  if (serving.delete(runtime) && serving.size === 0) {
    stopIsolating?.();
    stopIsolating = null;
  }
}
