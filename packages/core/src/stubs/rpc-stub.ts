import { exportForStub } from "./rpc-marshal.ts";
import { createRpcStub, duplicateStub, isRpcStub } from "./rpc-reference.ts";
import { RpcTarget } from "./rpc-target.ts";

/**
 * Cloudflare's `RpcStub` (exported by `cloudflare:workers`): `new
 * RpcStub(value)` makes a stub to a local function, `RpcTarget` or plain
 * object (whose own properties are then its members), disposable and
 * passable like one received over RPC. `instanceof RpcStub` is true of any
 * RPC stub.
 *
 * @example
 * using stub = new RpcStub(new Counter());
 * await env.ROOMS.getByName("a").watch(stub);
 */
export class RpcStub {
  constructor(value: object) {
    // biome-ignore lint/correctness/noConstructorReturn: `new RpcStub(x)` is the stub itself (a callable proxy), as on Cloudflare.
    if (isRpcStub(value)) return duplicateStub(value) as RpcStub;
    const plain = typeof value === "object" && value !== null && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);
    if (typeof value !== "function" && !(value instanceof RpcTarget) && !plain) {
      throw new TypeError("RpcStubs can only wrap plain objects, functions, and RpcTarget derivatives.");
    }
    // biome-ignore lint/correctness/noConstructorReturn: see above.
    return createRpcStub(exportForStub(value)) as RpcStub;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return isRpcStub(value);
  }
}
