import type { ObjectKey } from "../storage/storage-provider.ts";

/** How a runtime reaches objects that another process hosts (cluster mode). */
export interface RemoteHosts {
  /** `stub.fetch` to a remote owner. */
  fetch(key: ObjectKey, request: Request): Promise<Response>;
  /** An RPC method call; arguments and result are structured-cloned. */
  call(key: ObjectKey, method: string, args: unknown[]): Promise<unknown>;
  /** An RPC property read (`await stub.prop`). */
  read(key: ObjectKey, property: string): Promise<unknown>;
}

/**
 * Which objects this runtime hosts: the seam cluster or multi-node ownership
 * plugs into (`new Runtime({ directory })`; docs/architecture.md, "Placement").
 * A runtime without one uses the directory that says "local" for everything.
 * A stub asks it on every call (ownership moves during a reload or a
 * failover), and only objects it calls local are constructed here, run
 * their events and alarms, and open storage.
 */
export interface HostDirectory extends RemoteHosts {
  /** True when this process owns the object now. Asked on every stub call: keep it cheap. */
  isLocal(key: ObjectKey): boolean;
  /**
   * True when `call` takes arguments as the caller gave them (functions,
   * RpcTargets and stubs included) and passes them by reference itself (a
   * cluster worker's export table). Otherwise stubs clone the arguments
   * first, and references fail with ERR_RPC_CLONE.
   */
  readonly references?: boolean;
}
