import { exportForStub } from "./rpc-marshal.ts";
import { createRpcStub, duplicateStub, isRpcStub, NEW_REQUIRED, setStubConstructor } from "./rpc-reference.ts";
import { RpcTarget } from "./rpc-target.ts";

/** What `RpcStub` is to TypeScript: a class making stubs. */
export interface RpcStubConstructor {
  new (value: object): object;
}

/**
 * Cloudflare's `RpcStub` (exported by `cloudflare:workers`): `new
 * RpcStub(value)` makes a stub to a local function, `RpcTarget` or plain
 * object (whose own properties are then its members), disposable and
 * passable like one received over RPC. `instanceof RpcStub` is true of any
 * RPC stub. A function, not a class, so that calling it without `new` fails
 * with workerd's message.
 *
 * @example
 * const stub = new RpcStub(new Counter());
 * await env.ROOMS.getByName("a").watch(stub);
 */
export const RpcStub = function RpcStub(value: unknown): object {
  if (new.target === undefined) throw new TypeError(NEW_REQUIRED);
  if ((typeof value !== "object" && typeof value !== "function") || value === null) {
    throw new TypeError("Failed to construct 'JsRpcStub': constructor parameter 1 is not of type 'JsObject'.");
  }
  if (isRpcStub(value)) return duplicateStub(value);
  const prototype = Object.getPrototypeOf(value);
  const plain = typeof value === "object" && (prototype === Object.prototype || prototype === null);
  if (typeof value !== "function" && !(value instanceof RpcTarget) && !plain) {
    throw new TypeError("RpcStubs can only wrap plain objects, functions, and RpcTarget derivatives.");
  }
  return createRpcStub(exportForStub(value));
} as unknown as RpcStubConstructor;

Object.defineProperty(RpcStub, Symbol.hasInstance, { value: isRpcStub });
setStubConstructor(RpcStub);
