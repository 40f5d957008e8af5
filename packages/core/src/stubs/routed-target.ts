import type { HostDirectory } from "../ids/host-directory.ts";
import type { DurableObjectId } from "../ids/id.ts";
import type { ObjectHost } from "../object/object-host.ts";
import type { ObjectKey } from "../storage/storage-provider.ts";
import { LocalTarget } from "./local-target.ts";
import type { NamespaceKey } from "./namespace.ts";
import { clone } from "./rpc-clone.ts";
import type { StubTarget } from "./stub-target.ts";

/** Where a routed target finds its object's host in this process (the placement layer's host table). */
export interface LocalHosts {
  /** The host of `id` here, made if there is none yet. Throws ERR_RUNTIME_CLOSED once the runtime closed. */
  host(namespace: NamespaceKey, id: DurableObjectId): ObjectHost;
  /** Changes whenever a host leaves this process (it moved to another): targets then look their host up again. */
  readonly generation: number;
}

/**
 * What every stub holds: the object's key, the host directory and the way to
 * its host here. Where the object lives is asked on every call, because
 * ownership moves (a reload hands objects to new workers, a node fails
 * over); a process without a cluster has the directory that says "local"
 * for everything, so its calls always take the local path.
 */
export class RoutedTarget implements StubTarget {
  readonly key: ObjectKey;
  /** The local target while the object lives here: holding it keeps the host (and its counters) for as long as the stub lives. */
  #local: LocalTarget | null = null;
  #generation: number;

  constructor(
    readonly namespace: NamespaceKey,
    readonly id: DurableObjectId,
    readonly directory: HostDirectory,
    readonly hosts: LocalHosts,
  ) {
    this.key = { namespace: namespace.storageName, id: id.toString(), name: id.name };
    this.#generation = hosts.generation;
    if (directory.isLocal(this.key)) this.#local = new LocalTarget(hosts.host(namespace, id), true);
  }

  /** The local target when the directory says the object is here now, else null. */
  #localNow(): LocalTarget | null {
    if (!this.directory.isLocal(this.key)) return null;
    const hosts = this.hosts;
    if (this.#local === null || this.#generation !== hosts.generation) {
      this.#local = new LocalTarget(hosts.host(this.namespace, this.id), true);
      this.#generation = hosts.generation;
    }
    return this.#local;
  }

  localHost(): ObjectHost | undefined {
    return this.#localNow()?.host;
  }

  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const local = this.#localNow();
    if (local !== null) return local.fetch(input, init);
    return this.directory.fetch(this.key, input instanceof Request && init === undefined ? input : new Request(input, init));
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    const local = this.#localNow();
    if (local !== null) return local.call(method, args);
    // A directory that passes references itself (cluster workers) gets the arguments as they are.
    if (this.directory.references === true) return this.directory.call(this.key, method, args);
    // Cloned here: what passes by reference in one process cannot cross to another (ERR_RPC_CLONE, not a hang).
    let cloned: unknown[];
    try {
      cloned = clone(args, `the arguments of ${method}()`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.directory.call(this.key, method, cloned);
  }

  read(property: string): Promise<unknown> {
    const local = this.#localNow();
    return local !== null ? local.read(property) : this.directory.read(this.key, property);
  }
}
