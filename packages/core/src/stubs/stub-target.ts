import type { ObjectHost } from "../object/object-host.ts";

/**
 * What a stub calls: the one seam between stubs and placement. A local
 * target runs the call on a host in this process; a routed target asks the
 * host directory on every call where the object lives now, and goes local
 * or remote. Stubs never ask which kind they hold.
 */
export interface StubTarget {
  /** `stub.fetch(input, init)`. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** An RPC method call; arguments and result are structured-cloned. */
  call(method: string, args: unknown[]): Promise<unknown>;
  /** An RPC property read (`await stub.prop`). */
  read(property: string): Promise<unknown>;
  /** The object's host when it lives in this process now, else undefined (for the testing package and `runtime.hibernate`). */
  localHost(): ObjectHost | undefined;
}
