import type { ExecutionContext, Runtime } from "@torpor/core";
import { TorporError } from "@torpor/core";

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

/**
 * A value crossing a service binding, as workerd's RPC hands it over: a copy (structured
 * clone), except the things workerd streams rather than copies (Request, Response, a
 * ReadableStream), which pass as they are, and a function, which becomes a stub calling it
 * (async, its arguments and result crossing the same way). Functions nested in an object
 * are not copied: structuredClone's DataCloneError (workerd makes stubs of those too).
 */
function copy(value: unknown): unknown {
  if (value instanceof Response || value instanceof Request || value instanceof ReadableStream) return value;
  if (typeof value === "function") {
    const fn = value as (...args: unknown[]) => unknown;
    return async (...args: unknown[]) => {
      try {
        return copy(await fn(...args.map(copy)));
      } catch (error) {
        throw copyError(error);
      }
    };
  }
  try {
    return structuredClone(value);
  } catch (error) {
    if (!(error instanceof DOMException && error.name === "DataCloneError")) throw error;
    throw new TorporError(
      "ERR_RPC_CLONE",
      `A value sent over a service binding cannot be copied (${error.message}). Torpor passes a function only as a whole argument or result; Cloudflare also passes functions and RpcTargets inside objects, by reference.`,
    );
  }
}

/** An error thrown across a service binding, as workerd rebuilds it: standard classes keep theirs; others become `Error("<name>: <message>")`. */
function copyError(error: unknown): unknown {
  if (error instanceof TorporError) return error;
  if (!(error instanceof Error)) return copy(error);
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
      const copied = args.map(copy);
      result = await fn.apply(instance, copied);
    } else {
      const fn = exported?.[method];
      if (typeof fn !== "function") throw notImplemented(method);
      // A plain object's handlers take (input, env, ctx): workerd allows exactly one argument.
      if (args.length !== 1) {
        throw new TypeError(
          `Attempted to call RPC function "${method}" with the wrong number of arguments. When calling a top-level handler function that is not declared as part of a class, you must always send exactly one argument. In order to support variable numbers of arguments, the server must use class-based syntax (extending WorkerEntrypoint) instead.`,
        );
      }
      result = await fn.call(exported, copy(args[0]), env, ctx);
    }
  } catch (error) {
    throw copyError(error);
  }
  return copy(result);
}

/** Reads a property of the entrypoint over RPC (`await env.SERVICE.someGetter`). */
async function readProperty(target: ServiceTarget, entrypoint: string | undefined, property: string): Promise<unknown> {
  const exported = entrypoint === undefined ? target.defaultExport : target.entrypoints[entrypoint];
  if (typeof exported !== "function") return undefined;
  try {
    return copy((new exported(target.runtime.executionContext(), target.runtime.env) as Record<string, unknown>)[property]);
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
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => send(target(), entrypoint, toRequest(input, init));
  return new Proxy(
    {},
    {
      get(_object, property) {
        if (property === "fetch") return fetch;
        // Not a thenable itself (workerd's stub has no `then`), and no symbol is a method.
        if (typeof property !== "string" || property === "then") return undefined;
        const call = (...args: unknown[]) => invoke(target(), entrypoint, property, args);
        return Object.assign(call, {
          // biome-ignore lint/suspicious/noThenProperty: workerd's RPC property is awaitable (await env.SERVICE.someGetter) and callable at once.
          then: (resolve: (value: unknown) => unknown, reject: (error: unknown) => unknown) =>
            readProperty(target(), entrypoint, property).then(resolve, reject),
        });
      },
    },
  );
}
