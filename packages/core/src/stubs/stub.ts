import { TorporError } from "../errors.ts";
import type { DurableObjectId } from "../ids/id.ts";
import { afterOutputGate } from "../object/incarnation.ts";
import type { ObjectHost } from "../object/object-host.ts";
import { NativeResponse, webSocketOf } from "../http/response.ts";
import { RpcTarget } from "./rpc-target.ts";
import { endOf } from "../websocket/web-socket.ts";
import { RoutedObject } from "./routed-object.ts";

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

/** Handlers and built-ins that are not RPC methods (Cloudflare refuses them too). */
const NOT_RPC = new Set(["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError", "constructor", "then", "ctx", "env"]);

/** What a stub calls: the host itself (a runtime hosting every object) or a routed object (cluster mode). */
export type StubTarget = ObjectHost | RoutedObject;

const targetOfStub = new WeakMap<object, StubTarget>();

/** The host behind a stub (for the testing package and runtime.hibernate); undefined when another process owns the object. */
export function hostOf(stub: object): ObjectHost | undefined {
  const target = targetOfStub.get(stub);
  return target instanceof RoutedObject ? (target.local() ?? undefined) : target;
}

/** @internal */
export function createStub<T>(target: StubTarget, id: DurableObjectId): DurableObjectStub<T> {
  const base = {
    id,
    name: id.name,
    // A subrequest leaves once the calling object's writes so far are durable (the output gate).
    fetch: (input: RequestInfo | URL, init?: RequestInit) => afterOutputGate(() => fetchTo(target, input, init)),
  };
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const stub = new Proxy(base, {
    get(own, prop, receiver) {
      if (typeof prop !== "string" || prop in own) return Reflect.get(own, prop, receiver);
      // A stub is not a thenable: `await stub` must give the stub.
      if (prop === "then" || prop === "toJSON") return undefined;
      let member = methods.get(prop);
      if (member === undefined) {
        // Callable for a method, thenable for a property (`await stub.count`), as on Cloudflare.
        const call = (...args: unknown[]) => afterOutputGate(() => rpcTo(target, prop, args));
        member = Object.assign(call, {
          // biome-ignore lint/suspicious/noThenProperty: `await stub.prop` reads the property over RPC (Cloudflare's property reads); the stub itself stays non-thenable.
          then: (resolve?: (value: unknown) => unknown, reject?: (error: unknown) => unknown) =>
            afterOutputGate(() => readPropertyOf(target, prop)).then(resolve, reject),
        });
        methods.set(prop, member);
      }
      return member;
    },
  });
  targetOfStub.set(stub, target);
  return stub as unknown as DurableObjectStub<T>;
}

function fetchTo(target: StubTarget, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  if (!(target instanceof RoutedObject)) return stubFetch(target, input, init);
  const host = target.local();
  if (host !== null) return stubFetch(host, input, init);
  return target.directory.fetch(target.key, input instanceof Request && init === undefined ? input : new Request(input, init));
}

function rpcTo(target: StubTarget, method: string, args: unknown[]): Promise<unknown> {
  if (!(target instanceof RoutedObject)) return rpc(target, method, args);
  const host = target.local();
  if (host !== null) return rpc(host, method, args);
  // Cloned here too, so a value that cannot cross fails the same way as a local call.
  let cloned: unknown[];
  try {
    cloned = clone(args, `the arguments of ${method}()`);
  } catch (error) {
    return Promise.reject(error);
  }
  return target.directory.call(target.key, method, cloned);
}

function readPropertyOf(target: StubTarget, name: string): Promise<unknown> {
  if (!(target instanceof RoutedObject)) return readProperty(target, name);
  const host = target.local();
  return host !== null ? readProperty(host, name) : target.directory.read(target.key, name);
}

/** `stub.fetch` against a host in this process (also what a cluster owner runs for a routed request). */
export async function stubFetch(host: ObjectHost, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  // Pass a Request through as is: a copy per WebSocket handshake is measurable garbage (bench/RESULTS.md).
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  host.runtime.metrics.events.fetch++;
  const response = await host.call((instance) => {
    const handler = instance.fetch;
    if (typeof handler !== "function") {
      throw new TorporError("ERR_NO_SUCH_METHOD", `The Durable Object class ${host.cls.name} has no fetch() handler.`);
    }
    return handler.call(instance, request) as Response | Promise<Response>;
  });
  // Any platform Response will do: Response.json() and fetch() results are not instances of the installed subclass.
  if (!(response instanceof NativeResponse)) {
    throw new TypeError(`${host.cls.name}.fetch() must return a Response; it returned ${response === null ? "null" : typeof response}.`);
  }
  // A standard-accepted server end handed out by this object belongs to it.
  const client = webSocketOf(response);
  const server = client === null ? null : endOf(client).peer;
  if (server !== null) host.adoptStandard(server);
  return response;
}

/** An RPC call against a host in this process. */
export async function rpc(host: ObjectHost, method: string, args: unknown[]): Promise<unknown> {
  const cloned = clone(args, `the arguments of ${method}()`);
  host.runtime.metrics.events.rpc++;
  const result = await host.call((instance) => {
    const fn = NOT_RPC.has(method) ? undefined : instance[method];
    if (typeof fn !== "function") {
      throw new TorporError(
        "ERR_NO_SUCH_METHOD",
        `The Durable Object class ${host.cls.name} has no public method "${method}" to call over RPC. Check the spelling, and that it is a method, not a field.`,
      );
    }
    return fn.apply(instance, cloned);
  });
  return clone(result, `the result of ${method}()`);
}

/** An RPC property read against a host in this process. */
export async function readProperty(host: ObjectHost, name: string): Promise<unknown> {
  const value = await host.call((instance) => {
    const found = NOT_RPC.has(name) ? undefined : instance[name];
    if (found === undefined || typeof found === "function") {
      throw new TorporError(
        "ERR_NO_SUCH_METHOD",
        found === undefined
          ? `The Durable Object class ${host.cls.name} has no public property "${name}" to read over RPC.`
          : `"${name}" is a method of ${host.cls.name}: call it (stub.${name}(…)) instead of awaiting it.`,
      );
    }
    return found;
  });
  return clone(value, `the property ${name}`);
}

function clone<T>(value: T, what: string): T {
  const byReference = findByReference(value, new Set());
  if (byReference !== undefined) {
    throw new TorporError(
      "ERR_RPC_CLONE",
      `${capitalize(what)} holds ${byReference}: Cloudflare passes those by reference, and Torpor's RPC copies values (structured clone), so it cannot arrive as it was sent. Pass plain data, or call the object through its stub.`,
    );
  }
  try {
    return structuredClone(value);
  } catch (cause) {
    throw new TorporError(
      "ERR_RPC_CLONE",
      `RPC values are structured-cloned, and ${what} cannot be: ${(cause as Error).message}. Pass plain data (no functions, class instances with behaviour, or sockets).`,
      { cause },
    );
  }
}

/**
 * What Cloudflare would pass by reference (an RpcTarget, a function, a stub),
 * described, or undefined. Structured clone would copy an RpcTarget silently
 * without its methods, and fail on the others with a message naming none.
 */
function findByReference(value: unknown, seen: Set<object>): string | undefined {
  if (typeof value === "function") return `a function${value.name === "" ? "" : ` (${value.name})`}`;
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  if (value instanceof RpcTarget) return `an RpcTarget (${value.constructor.name})`;
  if (targetOfStub.has(value)) return "a Durable Object stub";
  seen.add(value);
  const children = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...value.keys(), ...value.values()]
      : value instanceof Set
        ? [...value]
        : Object.getPrototypeOf(value) === Object.prototype
          ? Object.values(value)
          : [];
  for (const child of children) {
    const found = findByReference(child, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
