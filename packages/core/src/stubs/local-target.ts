import { TorporError } from "../errors.ts";
import { NativeResponse, webSocketOf } from "../http/response.ts";
import { hasStreamedBody } from "../http/streamed-body.ts";
import { currentIncarnation, type Incarnation } from "../object/incarnation.ts";
import type { ObjectHost } from "../object/object-host.ts";
import { endOf } from "../websocket/web-socket.ts";
import { gateBody } from "./gated-body.ts";
import { clone } from "./rpc-clone.ts";
import { type CallOptions, call, encodeOrMarshal, result } from "./rpc-marshal.ts";
import type { StubTarget } from "./stub-target.ts";

/** Handlers and built-ins that are not RPC methods (Cloudflare refuses them too). */
const NOT_RPC = new Set(["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError", "constructor", "then", "ctx", "env"]);

/**
 * An object whose host is in this process: calls run on the host, through
 * its gates. What a routed target uses while the object is local, and what
 * a cluster owner runs for a call routed to it.
 *
 * With `byReference` (a caller in this process, or in a cluster worker
 * whose export table carries the references: the CLI's rpc-references.ts),
 * functions, RpcTargets and stubs in arguments and results pass by
 * reference (rpc-marshal.ts); without it (a caller on another node),
 * values are structured-cloned and those fail with ERR_RPC_CLONE.
 */
export class LocalTarget implements StubTarget {
  constructor(
    readonly host: ObjectHost,
    readonly byReference = false,
  ) {}

  /** The host. */
  localHost(): ObjectHost {
    return this.host;
  }

  /** `stub.fetch` against the host (also what a cluster owner runs for a routed request). */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const host = this.host;
    // Pass a Request through as is: a copy per WebSocket handshake is measurable garbage (bench/RESULTS.md).
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    host.runtime.metrics.events.fetch++;
    let incarnation: Incarnation | undefined;
    const response = await host.call((instance) => {
      incarnation = currentIncarnation();
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
    if (server !== null) host.sockets.adoptStandard(server);
    // What the object streams into the body after returning waits for its writes, chunk by chunk (gated-body.ts).
    // A body given whole (not a stream) was complete when returned: the response already waited for its writes.
    if (client === null && incarnation !== undefined && hasStreamedBody(response)) return gateBody(response, incarnation);
    return response;
  }

  /** An RPC call against the host; `options` only for a target passing references (a caller in another worker process). */
  async call(method: string, args: unknown[], options?: CallOptions): Promise<unknown> {
    const host = this.host;
    const run = (received: unknown[]) =>
      host.call((instance) => {
        const fn = NOT_RPC.has(method) ? undefined : instance[method];
        if (typeof fn !== "function") {
          throw new TorporError(
            "ERR_NO_SUCH_METHOD",
            `The Durable Object class ${host.cls.name} has no public method "${method}" to call over RPC. Check the spelling, and that it is a method, not a field.`,
          );
        }
        return fn.apply(instance, received);
      });
    if (this.byReference) {
      host.runtime.metrics.events.rpc++;
      return call(run, args, `${method}()`, options);
    }
    const cloned = clone(args, `the arguments of ${method}()`);
    host.runtime.metrics.events.rpc++;
    return clone(await run(cloned), `the result of ${method}()`);
  }

  /** An RPC property read against the host; `options.encode` as for `call` (a target passing references only). */
  async read(name: string, options?: Pick<CallOptions, "encode">): Promise<unknown> {
    const host = this.host;
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
    if (!this.byReference) return clone(value, `the property ${name}`);
    const encode = options?.encode;
    return encode !== undefined ? encodeOrMarshal(value, `the property ${name}`, encode) : result(value, `the property ${name}`);
  }
}
