import type { ExecutionContext, Runtime } from "@torpor/core";
import { afterOutputGate, requestWithGatedBody, rpcCall, rpcResult, TorporError } from "@torpor/core";
import { disposeValue, type Invoke, pipeline, rpcProperty } from "@torpor/core/cluster";

/** An exported WorkerEntrypoint class (default or named). */
export type EntrypointClass = new (ctx: ExecutionContext, env: Record<string, unknown>) => object;

/** What a Worker offers to service bindings: its fetch, its entrypoints, its runtime (env, ctx). */
export interface ServiceTarget {
  runtime: Runtime;
  /** The default export: a WorkerEntrypoint class, or a plain object of handlers (`{ fetch }`). */
  defaultExport: EntrypointClass | Record<string, unknown> | undefined;
  /** The named WorkerEntrypoint classes, by export name. */
  entrypoints: Record<string, EntrypointClass>;
}

/** The Workers of one process by name, for service bindings to find at call time. */
export class ServiceRegistry {
  readonly #targets = new Map<string, ServiceTarget>();

  add(name: string, target: ServiceTarget): void {
    this.#targets.set(name, target);
  }

  get(name: string): ServiceTarget | undefined {
    return this.#targets.get(name);
  }

  names(): string[] {
    return [...this.#targets.keys()];
  }
}

const STANDARD_ERRORS = new Set(["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError"]);

/** What workerd streams across RPC rather than copying: passed as it is (a whole argument or result). */
function isStreamed(value: unknown): boolean {
  return value instanceof Response || value instanceof Request || value instanceof ReadableStream;
}

/**
 * One RPC across a service binding, as workerd's RPC hands values over: core's RPC
 * within one process (rpcCall: values structured-cloned, functions and RpcTargets at any
 * depth passed by reference as stubs, stubs duplicated, the callee's copies disposed when
 * it returns), except a Request, a Response or a ReadableStream as a whole argument or
 * result, which workerd streams: those pass as they are.
 */
function rpc(run: (args: unknown[]) => unknown, args: unknown[], what: string): Promise<unknown> {
  const streamed = new Map<number, unknown>();
  const rest = args.map((arg, i) => {
    if (!isStreamed(arg)) return arg;
    streamed.set(i, arg);
    return undefined;
  });
  let streamedResult: unknown;
  return rpcCall(
    async (received) => {
      const value = await run(streamed.size === 0 ? received : received.map((arg, i) => (streamed.has(i) ? streamed.get(i) : arg)));
      if (!isStreamed(value)) return value;
      streamedResult = value;
      return undefined;
    },
    rest,
    what,
  ).then((value) => streamedResult ?? value);
}

/** An error thrown across a service binding, as workerd rebuilds it: standard classes keep theirs; others become `Error("<name>: <message>")`. */
function copyError(error: unknown): unknown {
  if (error instanceof TorporError) return error;
  if (!(error instanceof Error)) return rpcResult(error, "the thrown value");
  if (STANDARD_ERRORS.has(error.name) && STANDARD_ERRORS.has(error.constructor.name)) return structuredClone(error);
  return new Error(`${error.name}: ${error.message}`);
}

function notImplemented(method: string): TypeError {
  return new TypeError(`The RPC receiver does not implement the method "${method}".`);
}

/** The request a service binding's fetch() sends: workerd needs an absolute URL. */
function toRequest(input: RequestInfo | URL, init?: RequestInit): Request {
  if (input instanceof Request) return init === undefined ? input : new Request(input, init);
  const url = String(input);
  if (!URL.canParse(url)) throw new TypeError(`Invalid URL: ${url}`);
  return new Request(url, init);
}

/**
 * Calls `method` of the entrypoint `entrypoint` (undefined: the default export) of `target`
 * with `args`, as an RPC: a fresh instance with the Worker's env and a new ctx, arguments and
 * result copied, errors rebuilt as workerd does.
 */
async function invoke(target: ServiceTarget, entrypoint: string | undefined, method: string, args: unknown[]): Promise<unknown> {
  const env = target.runtime.env;
  const ctx = target.runtime.executionContext();
  const exported = entrypoint === undefined ? target.defaultExport : target.entrypoints[entrypoint];
  let result: unknown;
  try {
    if (typeof exported === "function") {
      const instance = new exported(ctx, env) as Record<string, unknown>;
      const fn = method === "constructor" ? undefined : instance[method];
      if (typeof fn !== "function") throw notImplemented(method);
      result = await rpc((received) => fn.apply(instance, received), args, `${method}()`);
    } else {
      const fn = exported?.[method];
      if (typeof fn !== "function") throw notImplemented(method);
      // A plain object's handlers take (input, env, ctx): workerd allows exactly one argument.
      if (args.length !== 1) {
        throw new TypeError(
          `Attempted to call RPC function "${method}" with the wrong number of arguments. When calling a top-level handler function that is not declared as part of a class, you must always send exactly one argument. In order to support variable numbers of arguments, the server must use class-based syntax (extending WorkerEntrypoint) instead.`,
        );
      }
      result = await rpc(([input]) => fn.call(exported, input, env, ctx), args, `${method}()`);
    }
  } catch (error) {
    throw copyError(error);
  }
  return result;
}

/** Reads a property of the entrypoint over RPC (`await env.SERVICE.someGetter`). */
async function readProperty(target: ServiceTarget, entrypoint: string | undefined, property: string): Promise<unknown> {
  const exported = entrypoint === undefined ? target.defaultExport : target.entrypoints[entrypoint];
  if (typeof exported !== "function") return undefined;
  try {
    const value = (new exported(target.runtime.executionContext(), target.runtime.env) as Record<string, unknown>)[property];
    return isStreamed(value) ? value : rpcResult(value, `the property ${property}`);
  } catch (error) {
    throw copyError(error);
  }
}

/** Sends `request` to the entrypoint's fetch(). */
async function send(target: ServiceTarget, entrypoint: string | undefined, request: Request): Promise<Response> {
  // The default export goes through the Worker's own fetch path (static assets first, as configured).
  if (entrypoint === undefined) return (await target.runtime.fetch(request)) as Response;
  const Cls = target.entrypoints[entrypoint]!;
  const instance = new Cls(target.runtime.executionContext(), target.runtime.env) as { fetch?: (r: Request) => Response | Promise<Response> };
  if (typeof instance.fetch !== "function") throw notImplemented("fetch");
  return instance.fetch(request);
}

/**
 * The env value of a service binding (`services: [{ binding, service, entrypoint }]`):
 * `fetch()` sends a request to the Worker, any other name is an RPC method of the
 * entrypoint (also awaitable, for a property). The Worker is looked up at each call, so
 * bindings made before their Worker started work once it has.
 *
 * @example
 * const sum = await env.MATH.add(2, 3);
 * const page = await env.SITE.fetch("https://site/");
 */
export function serviceBinding(registry: ServiceRegistry, service: string, entrypoint: string | undefined): object {
  const target = (): ServiceTarget => {
    const found = registry.get(service);
    if (found === undefined) {
      throw new TorporError(
        "ERR_SERVICE_NOT_FOUND",
        `The service binding to "${service}" has no Worker to call: no config given to this torpor process is named "${service}" (running: ${registry.names().join(", ") || "none"}). Start it too (torpor dev -c this.jsonc -c ${service}.jsonc), as wrangler dev takes several configs.`,
      );
    }
    return found;
  };
  // From Durable Object code, a request or call leaves once the object's writes so far are durable, as workerd's fetch and
  // RPC wait for the output locks (the whole request is made after the wait, errors included, as there).
  const fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
    afterOutputGate(async () => {
      const request = toRequest(input, init);
      // A body the object streams into it is gated chunk by chunk too (core's gated-request-body.ts; still the caller's context).
      return send(target(), entrypoint, requestWithGatedBody(request) ?? request);
    });
  // A member along a path: its first name is the entrypoint's method or property, the rest is pipelined on what that gives
  // (`env.B.makeCounter().increment()`), as on a Durable Object stub.
  const invokePath: Invoke = (path, args, op) =>
    afterOutputGate(async () => {
      const name = path[0]!;
      if (path.length === 1) return op === "call" ? invoke(target(), entrypoint, name, args) : readProperty(target(), entrypoint, name);
      return readProperty(target(), entrypoint, name).then(async (value) => {
        try {
          return await pipeline(value, path.slice(1), args, op);
        } finally {
          disposeValue(value);
        }
      });
    });
  const members = new Map<string, object>();
  return new Proxy(
    {},
    {
      get(_object, property) {
        if (property === "fetch") return fetch;
        // Not a thenable itself (workerd's stub has no `then`), and no symbol is a method.
        if (typeof property !== "string" || property === "then") return undefined;
        // Callable (an RPC call), awaitable (a property read) and pipelined further, as workerd's JsRpcProperty.
        let member = members.get(property);
        if (member === undefined) members.set(property, (member = rpcProperty(invokePath, [property])));
        return member;
      },
    },
  );
}
