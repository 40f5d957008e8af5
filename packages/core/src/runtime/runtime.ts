import { TorporError } from "../errors.ts";
import { ExecutionContext } from "../object/execution-context.ts";
import { isolateFaults, runAs, type FaultOwner } from "../object/fault-isolation.ts";
import { followObjectTimers } from "../object/object-timers.ts";
import { installGlobals } from "../http/globals.ts";
import type { DurableObjectId } from "../ids/id.ts";
import { memoryStorage } from "../storage/memory-storage.ts";
import { Metrics, type ObjectCounters } from "../metrics.ts";
import { DurableObjectNamespace, type NamespaceKey } from "../stubs/namespace.ts";
import { ObjectHost, type DurableObjectClass, type HostRuntime, type ObjectLifecycle } from "../object/object-host.ts";
import { resolveOptions, type ResolvedOptions, type RuntimeOptions } from "../options.ts";
import type { Logger } from "../logger.ts";
import { jsonError, Response } from "../http/response.ts";
import { startServer, type ListenOptions, type RunningServer } from "../http/server.ts";
import type { ObjectKey, StorageProvider } from "../storage/storage-provider.ts";
import { hostOf, type StubTarget } from "../stubs/stub.ts";
import { RoutedObject } from "../stubs/routed-object.ts";

/** The Worker entry: `export default { fetch }`. */
export type WorkerFetch = (
  request: Request,
  env: Record<string, unknown>,
  ctx: ExecutionContext,
) => Response | globalThis.Response | Promise<Response | globalThis.Response>;

/** An object, named by stub or id. */
export type ObjectTarget = { readonly id: DurableObjectId } | DurableObjectId;

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
  readonly #namespaces = new Map<string, { namespace: DurableObjectNamespace; cls: DurableObjectClass }>();
  /** The same entries by storage name (what ids and stored keys carry). */
  readonly #byStorageName = new Map<string, { namespace: DurableObjectNamespace; cls: DurableObjectClass }>();
  /** Hosts with something to keep: a live instance, sockets, an alarm (see `ObjectHost.disposable`). */
  readonly #hosts = new Map<string, ObjectHost>();
  /**
   * Hosts with nothing to keep (hibernated, no sockets, no alarm), held weakly: a stub still in
   * use keeps its host (and its counters), so one id never gets two hosts; otherwise the record is
   * garbage, and the registry drops its entry.
   */
  readonly #spare = new Map<string, WeakRef<ObjectHost>>();
  readonly #collected = new FinalizationRegistry<string>((key) => {
    if (this.#spare.get(key)?.deref() === undefined) this.#spare.delete(key);
  });
  /** Live instances, least recently used first. */
  readonly #live = new Map<ObjectHost, true>();
  readonly #waitUntil = new Set<Promise<unknown>>();
  #server: RunningServer | null = null;
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
    this.provider = this.options.storage ?? memoryStorage();
    const env: Record<string, unknown> = { ...this.options.env };
    const exports: Record<string, unknown> = {};
    const directory = this.options.directory;
    const self = {
      target: (ns: NamespaceKey, id: DurableObjectId): StubTarget => {
        if (directory === undefined) return this.#host(ns, id);
        return new RoutedObject({ namespace: ns.storageName, id: id.toString(), name: id.name }, directory, () => this.#host(ns, id));
      },
    };
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
    for (const host of [...this.#live.keys()]) {
      await host.drained();
      if (host.instance !== null && host.hibernate().length === 0) count++;
    }
    return count;
  }

  /** Lifecycle state, sockets and counters of one object. */
  inspect(target: ObjectTarget): ObjectInfo {
    return this.#info(this.#hostOf(target));
  }

  /** Every object this runtime has hosted since it started. */
  objects(): ObjectInfo[] {
    return this.#allHosts().map((h) => this.#info(h));
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
    const server = this.#server;
    this.#server = null;
    server?.stopAccepting();
    await Promise.all(this.#allHosts().map((h) => h.shutdown(options.code ?? 1012, options.reason ?? "Server restarting")));
    await Promise.allSettled([...this.#waitUntil]);
    await server?.close();
    unserve(this);
    this.#unfollowTimers();
    this.#live.clear();
    this.provider.close();
  }

  /** @internal the running server (cluster workers hand it connections). */
  get server(): RunningServer | null {
    return this.#server;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  touched(host: ObjectHost): void {
    const live = this.#live;
    if (live.has(host)) {
      // Re-insert to keep least-recently-used order; skipped while far below the cap, where order does not matter.
      if (live.size * 2 >= this.options.maxLiveObjects) {
        live.delete(host);
        live.set(host, true);
      }
      return;
    }
    live.set(host, true);
    this.#keep(host);
    if (live.size > this.options.maxLiveObjects) this.#evictLeastRecentlyUsed(host);
  }

  released(host: ObjectHost): void {
    this.#live.delete(host);
    if (host.disposable) this.#spareHost(host);
  }

  /** Every host: kept ones, and spare ones something still references. */
  #allHosts(): ObjectHost[] {
    const all = [...this.#hosts.values()];
    for (const ref of this.#spare.values()) {
      const host = ref.deref();
      if (host !== undefined) all.push(host);
    }
    return all;
  }

  /** Holds the host strongly (it is live, or has sockets or an alarm). */
  #keep(host: ObjectHost): void {
    const key = hostKey(host.key.namespace, host.key.id);
    if (this.#hosts.get(key) === host) return;
    this.#spare.delete(key);
    this.#hosts.set(key, host);
  }

  #spareHost(host: ObjectHost): void {
    const key = hostKey(host.key.namespace, host.key.id);
    if (this.#hosts.get(key) === host) this.#hosts.delete(key);
    this.#spare.set(key, new WeakRef(host));
  }

  #evictLeastRecentlyUsed(keep: ObjectHost): void {
    // Objects that cannot hibernate now (events in flight, standard sockets) are skipped.
    for (const host of this.#live.keys()) {
      if (this.#live.size <= this.options.maxLiveObjects) return;
      if (host !== keep) host.hibernate();
    }
  }

  #host(namespace: NamespaceKey, id: DurableObjectId): ObjectHost {
    if (this.#closed) throw new TorporError("ERR_RUNTIME_CLOSED", "This runtime was closed.");
    const key = hostKey(namespace.storageName, id.toString());
    let host = this.#hosts.get(key) ?? this.#spare.get(key)?.deref();
    if (host === undefined) {
      const cls = this.#namespaces.get(namespace.binding)!.cls;
      host = new ObjectHost(this, cls, id, { namespace: namespace.storageName, id: id.toString(), name: id.name });
      // Spare until it has something to keep: a stub made and never called leaves no record.
      this.#spare.set(key, new WeakRef(host));
      this.#collected.register(host, key);
    }
    return host;
  }

  /**
   * @internal the host of an object this process owns, by key (cluster
   * workers serving routed calls). `adopting`: the object is moving in and
   * not yet owned (its sockets arrive before its calls).
   */
  hostForKey(key: ObjectKey, adopting = false): ObjectHost {
    const entry = this.#byStorageName.get(key.namespace);
    if (entry === undefined) throw new TorporError("ERR_UNKNOWN_OBJECT", `No namespace "${key.namespace}" in this runtime.`);
    if (!adopting) this.#checkLocal(key);
    const ns = entry.namespace;
    const host = this.#host(ns, key.name !== undefined ? ns.idFromName(key.name) : ns.idFromString(key.id));
    // Sockets are about to move in: held strongly, as any host with sockets.
    if (adopting) this.#keep(host);
    return host;
  }

  /** @internal every host in memory (cluster workers moving objects out). */
  hosts(): ObjectHost[] {
    return this.#allHosts();
  }

  /** @internal forgets a host that moved to another process. */
  forget(host: ObjectHost): void {
    const key = hostKey(host.key.namespace, host.key.id);
    if (this.#hosts.get(key) === host) this.#hosts.delete(key);
    if (this.#spare.get(key)?.deref() === host) this.#spare.delete(key);
    this.#live.delete(host);
  }

  /** Only the owner may construct an object: a host is never made for one owned elsewhere. */
  #checkLocal(key: ObjectKey): void {
    const directory = this.options.directory;
    if (directory !== undefined && !directory.isLocal(key)) {
      throw new TorporError(
        "ERR_OBJECT_NOT_LOCAL",
        `Object ${key.namespace}/${key.name ?? key.id} is owned by another worker of this cluster; ask that worker (the admin endpoint routes there).`,
      );
    }
  }

  #hostOf(target: ObjectTarget): ObjectHost {
    const fromStub = hostOf(target as object);
    if (fromStub !== undefined) return fromStub;
    const id = ("id" in target ? target.id : target) as DurableObjectId;
    const entry = this.#byStorageName.get(id.namespaceKey);
    if (entry !== undefined) {
      this.#checkLocal({ namespace: id.namespaceKey, id: id.toString() });
      return this.#host(entry.namespace, id);
    }
    throw new TorporError("ERR_UNKNOWN_OBJECT", `No namespace of this runtime made the id ${String(id)}.`);
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
    };
  }

  /**
   * Schedules the persisted alarms of the objects this process hosts (all of
   * them without a host directory; `only` narrows further, for objects a
   * cluster worker just took over), without opening the objects.
   */
  scheduleStoredAlarms(only?: (key: ObjectKey) => boolean): void {
    const directory = this.options.directory;
    for (const { key, scheduledTime } of this.provider.listAlarms()) {
      const entry = this.#byStorageName.get(key.namespace);
      if (entry === undefined) continue;
      if (directory !== undefined && !directory.isLocal(key)) continue;
      if (only !== undefined && !only(key)) continue;
      const ns = entry.namespace;
      const id = key.name !== undefined ? ns.idFromName(key.name) : ns.idFromString(key.id);
      const host = this.#host(ns, id);
      this.#keep(host);
      host.scheduleAlarm(scheduledTime);
    }
  }
}

function hostKey(namespace: string, id: string): string {
  return `${namespace}/${id}`;
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
