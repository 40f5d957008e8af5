/**
 * The `cloudflare:test` module under Torpor's vitest plugin: Cloudflare's
 * names and semantics (checked against @cloudflare/vitest-pool-workers
 * 0.23 on workerd), backed by this test file's in-process runtime.
 * Argument errors are the TypeErrors Cloudflare's integration throws, word
 * for word, since tests may match on them.
 */
import { DurableObjectNamespace, hostOf, type DurableObjectId, type DurableObjectState, type DurableObjectStub } from "@torpor/core";
import { env } from "@torpor/cli/cloudflare-workers";
import { applyMigrations, DEFAULT_MIGRATIONS_TABLE, MigrationError, type D1Database, type D1Migration } from "@torpor/bindings";
import { TestingError } from "../errors.ts";
import { dropHibernatableSockets, evictHost } from "../evict.ts";
import type { ObjectHost } from "../host.ts";
import { listIds } from "../list-ids.ts";
import { runInHost, type InstanceOf } from "../run-in.ts";
import { workerRuntime } from "./worker-runtime.ts";

export { createExecutionContext, waitOnExecutionContext } from "./execution-context.ts";

/** The Worker's env (the same object as `env` of `cloudflare:workers`). */
export { env };

/** What `evictDurableObject` does with hibernatable WebSockets. */
export interface DurableObjectEvictionOptions {
  /** `"hibernate"` (default) keeps them connected; `"close"` drops them (clients see 1006, `wasClean` false). */
  webSockets?: "close" | "hibernate";
}

/** A fetcher into the Worker's default `fetch` handler, in process (WebSocket upgrades included). */
export const SELF = {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    return workerRuntime().runtime.fetch(input as Request | string | URL, init) as Promise<Response>;
  },
};

function argumentError(method: string, position: number, type: string): TypeError {
  return new TypeError(`Failed to execute '${method}': parameter ${position} is not of type '${type}'.`);
}

function hostOfStub(method: string, stub: unknown): ObjectHost {
  const host = typeof stub === "object" && stub !== null ? hostOf(stub) : undefined;
  if (host === undefined) throw argumentError(method, 1, "DurableObjectStub");
  return host;
}

/** Runs `callback` inside the object behind `stub`, with its instance and state; resolves with what it returns. */
export async function runInDurableObject<S extends DurableObjectStub<object>, R>(
  stub: S,
  callback: (instance: InstanceOf<S>, state: DurableObjectState) => R | Promise<R>,
): Promise<Awaited<R>> {
  const host = hostOfStub("runInDurableObject", stub);
  if (typeof callback !== "function") throw argumentError("runInDurableObject", 2, "function");
  return runInHost(host, callback as (instance: unknown, state: DurableObjectState) => R | Promise<R>);
}

/**
 * Runs the object's alarm now if one is set: deletes it, then calls
 * `alarm()` (with no invocation info). Resolves true, or false when none is
 * set. A throwing `alarm()` rejects the call and is not retried.
 */
export async function runDurableObjectAlarm(stub: DurableObjectStub<object>): Promise<boolean> {
  const host = hostOfStub("runDurableObjectAlarm", stub);
  return runInHost(host, async (instance, state) => {
    if ((await state.storage.getAlarm()) === null) return false;
    await state.storage.deleteAlarm();
    await (instance as { alarm?: () => unknown }).alarm?.();
    return true;
  });
}

const NOT_RUNNING = "Cannot evict Durable Object: it is not currently running.";

/**
 * Drops the running instance behind `stub` (storage stays). Hibernatable
 * WebSockets stay connected (`"hibernate"`, the default) or are dropped
 * (`"close"`). Rejects when the object is not running.
 */
export async function evictDurableObject(stub: DurableObjectStub<object>, options: DurableObjectEvictionOptions = {}): Promise<void> {
  const host = hostOfStub("evictDurableObject", stub);
  await evictRunning(host, evictionMode(options));
}

/** Evicts every running object, as {@link evictDurableObject} does each. */
export async function evictAllDurableObjects(options: DurableObjectEvictionOptions = {}): Promise<void> {
  const mode = evictionMode(options);
  const { runtime } = workerRuntime();
  for (const info of runtime.objects()) {
    if (info.state !== "live") continue;
    const namespace = runtime.namespace(info.binding);
    const host = runtime.hostFor(namespace.idFromString(info.id)) as ObjectHost;
    if (host.lifecycle === "live") await evictRunning(host, mode);
  }
}

function evictionMode(options: DurableObjectEvictionOptions): "hibernate" | "close" {
  const mode = options?.webSockets ?? "hibernate";
  if (mode !== "hibernate" && mode !== "close") throw new TypeError('options.webSockets must be "hibernate" or "close".');
  return mode;
}

async function evictRunning(host: ObjectHost, mode: "hibernate" | "close"): Promise<void> {
  await host.drained();
  if (host.lifecycle === "hibernated") throw new Error(NOT_RUNNING);
  await evictHost(host, { webSockets: mode }, dropHibernatableSockets);
}

/** Ids of the namespace's objects that were ever started or hold data, sorted, without names (as `idFromString` makes them). */
export async function listDurableObjectIds<T>(namespace: DurableObjectNamespace<T>): Promise<DurableObjectId[]> {
  if (!(namespace instanceof DurableObjectNamespace)) throw argumentError("listDurableObjectIds", 1, "DurableObjectNamespace");
  return listIds(workerRuntime().runtime, namespace, { cloudflare: true });
}

/**
 * Applies the migrations not yet recorded in `migrationsTableName` (default `d1_migrations`)
 * to a D1 binding, each in one batch with its record, as Cloudflare's integration does; safe
 * to call in a setup file that runs more than once. `migrations` usually comes from
 * `readD1Migrations()` of `@torpor/testing/vitest`, passed in through `miniflare.bindings`.
 */
export async function applyD1Migrations(db: unknown, migrations: unknown, migrationsTableName: unknown = DEFAULT_MIGRATIONS_TABLE): Promise<void> {
  if (!isD1Database(db)) throw new TypeError("Failed to execute 'applyD1Migrations': parameter 1 is not of type 'D1Database'.");
  if (!isD1Migrations(migrations)) throw new TypeError("Failed to execute 'applyD1Migrations': parameter 2 is not of type 'D1Migration[]'.");
  if (typeof migrationsTableName !== "string") throw new TypeError("Failed to execute 'applyD1Migrations': parameter 3 is not of type 'string'.");
  try {
    await applyMigrations(db, migrations, migrationsTableName);
  } catch (error) {
    // Cloudflare's integration lets D1's own error through.
    throw error instanceof MigrationError ? error.cause : error;
  }
}

/** Cloudflare's test: a D1Database by its class name and methods. */
function isD1Database(v: unknown): v is D1Database {
  const o = v as { constructor?: { name?: unknown }; prepare?: unknown; batch?: unknown; exec?: unknown } | null;
  return (
    typeof o === "object" &&
    o !== null &&
    o.constructor?.name === "D1Database" &&
    typeof o.prepare === "function" &&
    typeof o.batch === "function" &&
    typeof o.exec === "function"
  );
}

function isD1Migrations(v: unknown): v is D1Migration[] {
  return (
    Array.isArray(v) &&
    v.every(
      (m: { name?: unknown; queries?: unknown } | null) =>
        typeof m === "object" && m !== null && typeof m.name === "string" && Array.isArray(m.queries) && m.queries.every((q) => typeof q === "string"),
    )
  );
}

/** The parts of Cloudflare's module Torpor does not provide: each throws, saying why. */
function unsupported(name: string, why: string): (...args: unknown[]) => never {
  return () => {
    throw new TestingError("ERR_TEST_UNSUPPORTED", `cloudflare:test ${name}() is not provided by Torpor: ${why}.`);
  };
}

const NOT_SERVED = "Torpor serves a Worker's fetch handler and Durable Objects only";
export const createScheduledController = unsupported("createScheduledController", `${NOT_SERVED} (no scheduled() handlers)`);
export const createMessageBatch = unsupported("createMessageBatch", `${NOT_SERVED} (no Queues)`);
export const getQueueResult = unsupported("getQueueResult", `${NOT_SERVED} (no Queues)`);
export const createPagesEventContext = unsupported("createPagesEventContext", `${NOT_SERVED} (no Pages Functions)`);
export const adminSecretsStore = unsupported("adminSecretsStore", `${NOT_SERVED} (no Secrets Store)`);
export const introspectWorkflow = unsupported("introspectWorkflow", `${NOT_SERVED} (no Workflows)`);
export const introspectWorkflowInstance = unsupported("introspectWorkflowInstance", `${NOT_SERVED} (no Workflows)`);
export const reset = unsupported("reset", "each test file already starts with empty storage; to start over within a file, use ids of new names");
export const abortAllDurableObjects = unsupported("abortAllDurableObjects", "use evictAllDurableObjects(), which resets every instance and keeps storage");
