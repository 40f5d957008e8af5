// Types of the `cloudflare:test` module served by @torpor/testing's vitest plugin
// (`"types": ["@cloudflare/workers-types", "@torpor/testing/types"]` in tsconfig).
// The same shape as Cloudflare's integration, for the exports Torpor provides;
// `env` is `Cloudflare.Env`, as there.
declare module "cloudflare:test" {
  /** The Worker's env: the same object as `env` of `cloudflare:workers`. */
  export const env: Cloudflare.Env;

  /** A fetcher into the Worker's default `fetch` handler, in process (WebSocket upgrades included). */
  export const SELF: Pick<Fetcher, "fetch">;

  /** Runs `callback` inside the object behind `stub`; resolves with what it returns, rejects with what it throws. */
  export function runInDurableObject<O extends Rpc.DurableObjectBranded | DurableObject, R>(
    stub: DurableObjectStub<O>,
    callback: (instance: O, state: DurableObjectState) => R | Promise<R>,
  ): Promise<R>;

  /** Deletes the pending alarm and calls `alarm()`; resolves true, or false when none is set. */
  export function runDurableObjectAlarm(stub: DurableObjectStub): Promise<boolean>;

  export interface DurableObjectEvictionOptions {
    /** `"hibernate"` (default) keeps hibernatable WebSockets connected; `"close"` drops them (1006). */
    webSockets?: "close" | "hibernate";
  }

  /** Drops the running instance (storage stays); rejects when the object is not running. */
  export function evictDurableObject(stub: DurableObjectStub, options?: DurableObjectEvictionOptions): Promise<void>;

  /** Evicts every running object. */
  export function evictAllDurableObjects(options?: DurableObjectEvictionOptions): Promise<void>;

  /** Ids of the objects that ran or hold data in this test file, sorted. */
  export function listDurableObjectIds<T>(
    namespace: DurableObjectNamespace<T extends Rpc.DurableObjectBranded | undefined ? T : undefined>,
  ): Promise<DurableObjectId[]>;

  /** An `ExecutionContext` for calling the Worker's handlers directly. */
  export function createExecutionContext(): ExecutionContext;

  /** Waits for every `ctx.waitUntil()` promise; rejects with a rejection (an AggregateError for several). */
  export function waitOnExecutionContext(ctx: ExecutionContext): Promise<void>;

  /** One migration: its file name and statements (what `readD1Migrations()` of `@torpor/testing/vitest` returns). */
  export interface D1Migration {
    name: string;
    queries: string[];
  }

  /** Applies the migrations not yet recorded in `migrationsTableName` (default `d1_migrations`), each in one batch. */
  export function applyD1Migrations(db: D1Database, migrations: D1Migration[], migrationsTableName?: string): Promise<void>;

  /** Not provided by Torpor: each throws `TestingError` `ERR_TEST_UNSUPPORTED` saying why. */
  export function reset(): Promise<void>;
  export function abortAllDurableObjects(): Promise<void>;
  export function createScheduledController(options?: unknown): never;
  export function createMessageBatch(queueName: string, messages: unknown[]): never;
  export function getQueueResult(batch: unknown, ctx: ExecutionContext): never;
  export function createPagesEventContext(init: unknown): never;
  export function adminSecretsStore(binding: unknown): never;
  export function introspectWorkflow(workflow: unknown): never;
  export function introspectWorkflowInstance(workflow: unknown, instanceId: string): never;
}
