import type { ObjectHost } from "../object/object-host.ts";

/**
 * The hosts of the objects in this process, and which of them are live.
 *
 * A host with something to keep (a live instance, sockets, an alarm: see
 * `ObjectHost.disposable`) is held strongly. A host with nothing to keep is
 * held through a `WeakRef`: a stub still in use keeps it (so one id never
 * gets two hosts, and its counters survive); otherwise it is garbage, and a
 * `FinalizationRegistry` drops its entry. Live instances are kept in
 * least-recently-used order for `maxLiveObjects`.
 */
export class HostTable {
  /** Hosts with something to keep. */
  readonly #hosts = new Map<string, ObjectHost>();
  /** Hosts with nothing to keep, held weakly. */
  readonly #spare = new Map<string, WeakRef<ObjectHost>>();
  readonly #collected = new FinalizationRegistry<string>((key) => {
    if (this.#spare.get(key)?.deref() === undefined) this.#spare.delete(key);
  });
  /** Live instances, least recently used first. */
  readonly #live = new Map<ObjectHost, true>();
  #generation = 0;

  constructor(readonly maxLiveObjects: number) {}

  /** Changes each time a host is forgotten (it left this process), so holders of hosts look theirs up again. */
  get generation(): number {
    return this.#generation;
  }

  /** The host under `key` (see `tableKey`), if this process has one. */
  find(key: string): ObjectHost | undefined {
    return this.#hosts.get(key) ?? this.#spare.get(key)?.deref();
  }

  /** Adds a new host, spare until it has something to keep: a stub made and never called leaves no record. */
  add(key: string, host: ObjectHost): void {
    this.#spare.set(key, new WeakRef(host));
    this.#collected.register(host, key);
  }

  /** Holds the host strongly (it is live, or has sockets or an alarm). */
  keep(host: ObjectHost): void {
    const key = tableKey(host.key.namespace, host.key.id);
    if (this.#hosts.get(key) === host) return;
    this.#spare.delete(key);
    this.#hosts.set(key, host);
  }

  /** The instance was constructed or handled an event (LRU bookkeeping; evicts past `maxLiveObjects`). */
  touched(host: ObjectHost): void {
    const live = this.#live;
    if (live.has(host)) {
      // Re-insert to keep least-recently-used order; skipped while far below the cap, where order does not matter.
      if (live.size * 2 >= this.maxLiveObjects) {
        live.delete(host);
        live.set(host, true);
      }
      return;
    }
    live.set(host, true);
    this.keep(host);
    if (live.size > this.maxLiveObjects) this.#evictLeastRecentlyUsed(host);
  }

  /** The instance was dropped. */
  released(host: ObjectHost): void {
    this.#live.delete(host);
    if (host.disposable) this.#spareHost(host);
  }

  /** Forgets a host that moved to another process. */
  forget(host: ObjectHost): void {
    const key = tableKey(host.key.namespace, host.key.id);
    if (this.#hosts.get(key) === host) this.#hosts.delete(key);
    if (this.#spare.get(key)?.deref() === host) this.#spare.delete(key);
    this.#live.delete(host);
    this.#generation++;
  }

  /** Every host: kept ones, and spare ones something still references. */
  all(): ObjectHost[] {
    const all = [...this.#hosts.values()];
    for (const ref of this.#spare.values()) {
      const host = ref.deref();
      if (host !== undefined) all.push(host);
    }
    return all;
  }

  /** The hosts held strongly: live, or with sockets, an alarm or events queued. */
  kept(): ObjectHost[] {
    return [...this.#hosts.values()];
  }

  /** How many hosts have a live instance. */
  get liveCount(): number {
    return this.#live.size;
  }

  /** The hosts with a live instance, least recently used first. */
  live(): ObjectHost[] {
    return [...this.#live.keys()];
  }

  /** Forgets which instances are live (the runtime closed). */
  clearLive(): void {
    this.#live.clear();
  }

  #spareHost(host: ObjectHost): void {
    const key = tableKey(host.key.namespace, host.key.id);
    if (this.#hosts.get(key) === host) this.#hosts.delete(key);
    this.#spare.set(key, new WeakRef(host));
  }

  #evictLeastRecentlyUsed(keep: ObjectHost): void {
    // Objects that cannot hibernate now (events in flight, standard sockets) are skipped.
    for (const host of this.#live.keys()) {
      if (this.#live.size <= this.maxLiveObjects) return;
      if (host !== keep) host.hibernate();
    }
  }
}

/** The table's key for an object: its namespace's storage name and its id. */
export function tableKey(namespace: string, id: string): string {
  return `${namespace}/${id}`;
}
