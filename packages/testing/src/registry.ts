import type { DurableObjectId, DurableObjectNamespace } from "@torpor/core";
import { TorporError } from "@torpor/core";
import { connectWith, type ConnectOptions, type ConnectTarget, type Connector } from "./connect.ts";
import { TestingError } from "./errors.ts";
import { hostFromStub } from "./host.ts";
import type { TestWebSocket } from "./test-socket.ts";

/** @internal what the module-level verbs need from the test runtime that owns a stub or namespace. */
export interface Registered {
  readonly connector: Connector;
  listDurableObjectIds<T>(namespace: DurableObjectNamespace<T>): DurableObjectId[];
}

// Keyed by per-runtime objects (the Runtime, its namespaces), so concurrent tests never share an entry.
const byOwner = new WeakMap<object, Registered>();

/** @internal */
export function register(owner: object, entry: Registered): void {
  byOwner.set(owner, entry);
}

/**
 * Ids of the objects in `namespace` with stored data or running now
 * (Cloudflare's `listDurableObjectIds`). The namespace must come from a
 * `createTestRuntime()` env.
 *
 * @example
 * expect(await listDurableObjectIds(t.env.ROOM)).toHaveLength(2);
 */
export async function listDurableObjectIds<T>(namespace: DurableObjectNamespace<T>): Promise<DurableObjectId[]> {
  const entry = byOwner.get(namespace);
  if (entry === undefined) {
    throw new TorporError("ERR_UNKNOWN_BINDING", "listDurableObjectIds() takes a namespace from a createTestRuntime() env (t.env.BINDING).");
  }
  return entry.listDurableObjectIds(namespace);
}

/**
 * Opens a WebSocket test client to the object behind `stub` (its `fetch`
 * gets the upgrade request for `path`, bypassing the Worker's routing).
 * For a URL or a path through the Worker, use the test runtime's `t.connect`.
 *
 * @example
 * const alice = await connect(stub, "/join?name=alice", { transport: "tcp" });
 */
export function connect(stub: Exclude<ConnectTarget, string>, path?: string | ConnectOptions, options?: ConnectOptions): Promise<TestWebSocket> {
  if (typeof stub === "string") {
    return Promise.reject(
      new TestingError("ERR_TEST_CONTEXT", `connect("${String(stub)}") needs to know the runtime: use t.connect(url) from createTestRuntime().`),
    );
  }
  const entry = byOwner.get(hostFromStub(stub).runtime);
  if (entry === undefined) {
    return Promise.reject(
      new TestingError("ERR_TEST_CONTEXT", "connect() takes a stub from a createTestRuntime() env; for another runtime use its URL with the ws package."),
    );
  }
  return connectWith(entry.connector, stub, path, options);
}
