import { randomUUID } from "node:crypto";
import { type DurableObjectStub, type ExecutionContext, type Runtime, type WorkerFetch } from "@torpor/core";

/** Header carrying a per-runtime token and an object's address on test upgrade requests. */
const ROUTE_HEADER = "x-torpor-testing-route";

/**
 * Lets `connect(stub)` over TCP reach that exact object whatever the
 * Worker's routing: the test client sends a header with a per-runtime secret
 * token and the object's address, and this Worker entry (wrapping the
 * user's) hands such requests straight to the object, header removed.
 */
export class ObjectRoute {
  readonly #token = randomUUID();
  readonly #userFetch: WorkerFetch | undefined;
  #runtime: Runtime | null = null;

  constructor(userFetch: WorkerFetch | undefined) {
    this.#userFetch = userFetch;
  }

  attach(runtime: Runtime): void {
    this.#runtime = runtime;
  }

  /** The Worker entry to give the runtime. */
  readonly fetch = (request: Request, env: Record<string, unknown>, ctx: ExecutionContext): ReturnType<WorkerFetch> => {
    const runtime = this.#runtime!;
    const route = request.headers.get(ROUTE_HEADER);
    if (route !== null) {
      const [token, binding = "", hex = "", name] = route.split(" ");
      if (token === this.#token) {
        const namespace = runtime.namespace(decodeURIComponent(binding));
        const id = name === undefined ? namespace.idFromString(hex) : namespace.idFromName(decodeURIComponent(name));
        const forwarded = new Request(request);
        forwarded.headers.delete(ROUTE_HEADER);
        return namespace.get(id).fetch(forwarded);
      }
    }
    if (this.#userFetch !== undefined) return this.#userFetch(request, env, ctx);
    return runtime.route(request);
  };

  /** The header that sends an upgrade to the object behind `stub`. */
  headersFor(stub: Pick<DurableObjectStub, "id">): Record<string, string> {
    const binding = this.#runtime!.inspect(stub).binding;
    const parts = [this.#token, encodeURIComponent(binding), stub.id.toString()];
    if (stub.id.name !== undefined) parts.push(encodeURIComponent(stub.id.name));
    return { [ROUTE_HEADER]: parts.join(" ") };
  }
}
