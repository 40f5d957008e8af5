import { TorporError } from "../errors.ts";
import type { HostDirectory } from "../ids/host-directory.ts";
import type { DurableObjectId } from "../ids/id.ts";
import { ObjectHost, type DurableObjectClass, type HostRuntime } from "../object/object-host.ts";
import type { ObjectKey, PendingAlarm } from "../storage/storage-provider.ts";
import type { DurableObjectNamespace, NamespaceKey } from "../stubs/namespace.ts";
import { RoutedTarget, type LocalHosts } from "../stubs/routed-target.ts";
import { hostOf } from "../stubs/stub.ts";
import type { StubTarget } from "../stubs/stub-target.ts";
import { HostTable, tableKey } from "./host-table.ts";

/** An object, named by stub or id. */
export type ObjectTarget = { readonly id: DurableObjectId } | DurableObjectId;

/** A namespace as placement sees it: ids are made from keys with it, its objects run `cls`. */
export interface PlacedNamespace {
  readonly namespace: DurableObjectNamespace;
  readonly cls: DurableObjectClass;
}

/**
 * The directory of a process that hosts every object. One process is not a
 * special case: it is the directory that says "local" for everything, so
 * its stubs always take the local path and nothing is ever routed.
 */
export const everythingLocal: HostDirectory = {
  isLocal: () => true,
  fetch: notRouted,
  call: notRouted,
  read: notRouted,
};

function notRouted(key: ObjectKey): Promise<never> {
  return Promise.reject(
    new TorporError("ERR_OBJECT_NOT_LOCAL", `Object ${key.namespace}/${key.name ?? key.id} is not hosted here, and this runtime has no cluster to route to.`),
  );
}

/**
 * Where objects live: the placement layer. Every question of the kind "is
 * this object here, and which host is it" is asked here, of the host
 * directory (`ids/host-directory.ts`: the seam a cluster or a multi-node
 * deployment plugs in) and of the host table. Only objects the directory
 * calls local get a host that constructs them, runs their events and alarms
 * and opens their storage.
 */
export class Placement implements LocalHosts {
  readonly table: HostTable;
  #closed = false;

  constructor(
    readonly runtime: HostRuntime,
    readonly directory: HostDirectory,
    /** The runtime's namespaces by storage name (what ids and stored keys carry). */
    readonly namespaces: ReadonlyMap<string, PlacedNamespace>,
    maxLiveObjects: number,
  ) {
    this.table = new HostTable(maxLiveObjects);
  }

  /** LocalHosts: changes when a host left this process. */
  get generation(): number {
    return this.table.generation;
  }

  /** What a stub for `id` calls: routed through the directory on every call. */
  target(namespace: NamespaceKey, id: DurableObjectId): StubTarget {
    return new RoutedTarget(namespace, id, this.directory, this);
  }

  /** LocalHosts: the host of `id` in this process, made (spare) if there is none. */
  host(namespace: NamespaceKey, id: DurableObjectId): ObjectHost {
    if (this.#closed) throw new TorporError("ERR_RUNTIME_CLOSED", "This runtime was closed.");
    const key = tableKey(namespace.storageName, id.toString());
    let host = this.table.find(key);
    if (host === undefined) {
      const cls = this.namespaces.get(namespace.storageName)!.cls;
      host = new ObjectHost(this.runtime, cls, id, { namespace: namespace.storageName, id: id.toString(), name: id.name });
      this.table.add(key, host);
    }
    return host;
  }

  /**
   * The host of an object this process owns, by key (cluster workers serving
   * routed calls). `adopting`: the object is moving in and not yet owned (its
   * sockets arrive before its calls).
   */
  hostForKey(key: ObjectKey, adopting = false): ObjectHost {
    const entry = this.namespaces.get(key.namespace);
    if (entry === undefined) throw new TorporError("ERR_UNKNOWN_OBJECT", `No namespace "${key.namespace}" in this runtime.`);
    if (!adopting) this.#checkLocal(key);
    // A host made for this very key (same id, same name) is the one the id would find: no SHA-256 of the name per routed call.
    const known = this.#closed ? undefined : this.table.find(tableKey(key.namespace, key.id));
    if (known !== undefined && known.key.name === key.name) {
      if (adopting) this.table.keep(known);
      return known;
    }
    const ns = entry.namespace;
    const host = this.host(ns, key.name !== undefined ? ns.idFromName(key.name) : ns.idFromString(key.id));
    // Sockets are about to move in: held strongly, as any host with sockets.
    if (adopting) this.table.keep(host);
    return host;
  }

  /** The host behind a stub (of any runtime) or an id of this one. */
  hostFor(target: ObjectTarget): ObjectHost {
    const fromStub = hostOf(target as object);
    if (fromStub !== undefined) return fromStub;
    const id = ("id" in target ? target.id : target) as DurableObjectId;
    const entry = this.namespaces.get(id.namespaceKey);
    if (entry !== undefined) {
      this.#checkLocal({ namespace: id.namespaceKey, id: id.toString() });
      return this.host(entry.namespace, id);
    }
    throw new TorporError("ERR_UNKNOWN_OBJECT", `No namespace of this runtime made the id ${String(id)}.`);
  }

  /**
   * Schedules the persisted alarms of the objects this process hosts (`only`
   * narrows further, for objects a cluster worker just took over), without
   * opening the objects.
   */
  restoreAlarms(alarms: Iterable<PendingAlarm>, only?: (key: ObjectKey) => boolean): void {
    for (const { key, scheduledTime } of alarms) {
      const entry = this.namespaces.get(key.namespace);
      if (entry === undefined) continue;
      if (!this.directory.isLocal(key)) continue;
      if (only !== undefined && !only(key)) continue;
      const ns = entry.namespace;
      const host = this.host(ns, key.name !== undefined ? ns.idFromName(key.name) : ns.idFromString(key.id));
      this.table.keep(host);
      host.alarms.schedule(scheduledTime);
    }
  }

  /** No host is made from now on (the runtime closed). */
  close(): void {
    this.#closed = true;
  }

  /** Only the owner may construct an object: a host is never made for one owned elsewhere. */
  #checkLocal(key: ObjectKey): void {
    if (!this.directory.isLocal(key)) {
      throw new TorporError(
        "ERR_OBJECT_NOT_LOCAL",
        `Object ${key.namespace}/${key.name ?? key.id} is owned by another worker of this cluster; ask that worker (the admin endpoint routes there).`,
      );
    }
  }
}
