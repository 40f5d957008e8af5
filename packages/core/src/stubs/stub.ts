import type { DurableObjectId } from "../ids/id.ts";
import { sendBehindGate } from "../http/gated-request-body.ts";
import { afterOutputGate } from "../object/incarnation.ts";
import type { ObjectHost } from "../object/object-host.ts";
import { disposeValue, type Invoke, kInvoke, pipeline, rpcProperty } from "./rpc-reference.ts";
import type { StubTarget } from "./stub-target.ts";

/** Handlers and the stub's own members, which are not RPC members. */
type NotRpc = "fetch" | "alarm" | "webSocketMessage" | "webSocketClose" | "webSocketError" | "id" | "name";

/**
 * Public members of `T` over RPC: methods return promises, properties are
 * awaited (`await stub.count`). An index signature (the untyped default)
 * contributes no members.
 */
type RpcMembers<T> = {
  [K in keyof T as string extends K ? never : K extends NotRpc ? never : K]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : Promise<T[K]>;
};

/** A client-side handle to one object: `fetch` and RPC calls to its public methods. */
export type DurableObjectStub<T = Record<string, unknown>> = RpcMembers<T> & {
  readonly id: DurableObjectId;
  readonly name: string | undefined;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
};

/**
 * Every stub made here. A set, and the target behind the stub's own key
 * below: a WeakMap from each stub to a target made for it costs the garbage
 * collector an ephemeron per stub (stub creation was 20–30% slower).
 */
const stubs = new WeakSet<object>();
/** The stub's own key for its target (answered by its proxy; not an RPC member). */
const kTarget = Symbol("torpor.stubTarget");

/** The host behind a stub (for the testing package and runtime.hibernate); undefined when another process owns the object. */
export function hostOf(stub: object): ObjectHost | undefined {
  return stubs.has(stub) ? (stub as { [kTarget]: StubTarget })[kTarget].localHost() : undefined;
}

/** Whether `value` is a stub (RPC refuses to copy one). */
export function isStub(value: object): boolean {
  return stubs.has(value);
}

/** @internal */
export function createStub<T>(target: StubTarget, id: DurableObjectId): DurableObjectStub<T> {
  const base = {
    id,
    name: id.name,
    // A subrequest leaves once the calling object's writes so far are durable (the output gate); a streamed body, chunk by chunk.
    fetch: (input: RequestInfo | URL, init?: RequestInit) => sendBehindGate(input, init, (request, requestInit) => target.fetch(request, requestInit)),
  };
  // A call or read along a path from the object: its first name is the object's member, the rest is pipelined on what that gives.
  const invoke: Invoke = (path, args, op) => {
    const name = path[0];
    if (name === undefined) return Promise.reject(new TypeError("A Durable Object stub is not a function."));
    // A subrequest leaves once the calling object's writes so far are durable (the output gate).
    return afterOutputGate(() => {
      if (path.length === 1) return op === "call" ? target.call(name, args) : target.read(name);
      return target.read(name).then(async (value) => {
        try {
          return await pipeline(value, path.slice(1), args, op);
        } finally {
          disposeValue(value);
        }
      });
    });
  };
  const members = new Map<string, object>();
  const stub = new Proxy(base, {
    get(own, prop, receiver) {
      if (prop === kTarget) return target;
      if (prop === kInvoke) return invoke;
      if (typeof prop !== "string" || prop in own) return Reflect.get(own, prop, receiver);
      // A stub is not a thenable: `await stub` must give the stub.
      if (prop === "then" || prop === "toJSON") return undefined;
      let member = members.get(prop);
      if (member === undefined) {
        // Callable for a method, thenable for a property (`await stub.count`), pipelined further (`stub.counter.increment()`), as on Cloudflare.
        member = rpcProperty(invoke, [prop]);
        members.set(prop, member);
      }
      return member;
    },
  });
  stubs.add(stub);
  return stub as unknown as DurableObjectStub<T>;
}
