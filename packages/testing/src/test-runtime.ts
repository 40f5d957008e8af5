import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Runtime,
  TorporError,
  VirtualClock,
  memoryStorage,
  systemClock,
  type Clock,
  type DurableObjectId,
  type DurableObjectNamespace,
  type DurableObjectState,
  type DurableObjectStub,
  type ExecutionContext,
  type Logger,
  type ObjectTarget,
  type RuntimeOptions,
  type StorageProvider,
  type WorkerFetch,
} from "@torpor/core";
import { sqliteStorage } from "@torpor/storage-sqlite";
import * as vitest from "vitest";
import { connectWith, type ConnectOptions, type ConnectTarget, type Connector } from "./connect.ts";
import { TestingError } from "./errors.ts";
import { evictHost, type EvictOptions } from "./evict.ts";
import type { ObjectHost } from "./host.ts";
import { blockersOf, lifecycleOf, type LifecycleInfo } from "./lifecycle.ts";
import { listIds } from "./list-ids.ts";
import { ObjectRoute } from "./object-route.ts";
import { recordingLogger, type LogEntry } from "@torpor/core";
import { register } from "./registry.ts";
import { runInHost, type InstanceOf } from "./run-in.ts";
import type { TestWebSocket, Transport } from "./test-socket.ts";

/** The running test: vitest 4.1 has it on `TestRunner` (and deprecates `vitest/suite`), vitest 3.2 in `vitest/suite` only. */
type CurrentTest = () => { name: string; concurrent?: boolean | undefined } | undefined;
const testRunner = (vitest as { TestRunner?: { getCurrentTest?: CurrentTest } }).TestRunner;
const getCurrentTest: CurrentTest =
  typeof testRunner?.getCurrentTest === "function" ? () => testRunner.getCurrentTest!() : (await import("vitest/suite")).getCurrentTest;

type ObjectClasses = Record<string, new (ctx: never, env: never) => object>;

/** Registers cleanup with the running test: vitest's test context (`({ onTestFinished }) => …`). */
export interface CleanupContext {
  onTestFinished(fn: () => Promise<void> | void): void;
}

/** Options of {@link createTestRuntime}: the runtime's options, with test-friendly defaults. */
export interface TestRuntimeOptions<O extends ObjectClasses = ObjectClasses, C extends "virtual" | "real" | Clock = "virtual">
  extends Omit<RuntimeOptions, "objects" | "fetch" | "storage" | "clock" | "logger"> {
  objects: O;
  /** The Worker entry (`export default { fetch }`), with `env` typed by `objects`. Default: `/<BINDING>/<name>/…` routing. */
  fetch?: (request: Request, env: TestEnv<O>, ctx: ExecutionContext) => Response | globalThis.Response | Promise<Response | globalThis.Response>;
  /** `"sqlite"` (default: a fresh temp directory, removed at cleanup), `"memory"`, or your own provider (not closed for you… it is: the runtime closes it). */
  storage?: "sqlite" | "memory" | StorageProvider;
  /** `"virtual"` (default: time moves only with `t.clock.advance(ms)`), `"real"`, or a Clock. */
  clock?: C;
  /** Where the runtime logs. Default: a recording logger (`t.logs`), so nothing reaches the console. */
  logger?: Logger;
  /** Default transport of `t.connect`. Default `"memory"`. */
  transport?: Transport;
  /**
   * The test context to clean up with. Needed in `test.concurrent` tests
   * (vitest cannot tell concurrent tests apart in module-level hooks);
   * `null` for manual cleanup (`await t.close()` or `await using`), e.g. in `beforeAll`.
   */
  context?: CleanupContext | null;
}

/** The namespaces of `objects`, typed by class, as they appear in `env`. */
export type TestEnv<O extends ObjectClasses> = { [K in keyof O]: DurableObjectNamespace<InstanceType<O[K]>> } & Record<string, unknown>;

/** An object named by stub (typed instance) or by id. */
type Target = DurableObjectStub<object> | DurableObjectId;

/** A runtime for one test, with the testing verbs bound to it. Returned by {@link createTestRuntime}. */
export interface TestRuntime<O extends ObjectClasses = ObjectClasses, C extends Clock = VirtualClock> {
  /** The Torpor runtime. */
  readonly runtime: Runtime;
  /** The Worker `env`: one namespace per binding, plus `options.env`. */
  readonly env: TestEnv<O>;
  /** The runtime's clock: advance it to fire idle hibernation, alarms, alarm retries and event timeouts. */
  readonly clock: C;
  /** What the runtime logged (with the default recording logger; empty with your own). */
  readonly logs: LogEntry[];
  /** The temp directory of the SQLite storage (removed at cleanup), or null for other storage. */
  readonly storageDir: string | null;
  /** The server's http:// URL once listening (after `listen()` or a TCP `connect`), else undefined. */
  readonly url: string | undefined;
  /** Listens on 127.0.0.1, port 0; later calls return the same address. */
  listen(): Promise<{ url: string; port: number }>;
  /** {@link runInDurableObject} on this runtime; also takes an id. */
  runInDurableObject<S extends Target, R>(target: S, fn: (instance: InstanceOf<S>, ctx: DurableObjectState) => R | Promise<R>): Promise<Awaited<R>>;
  /** {@link runDurableObjectAlarm} on this runtime; also takes an id. */
  runDurableObjectAlarm(target: Target): Promise<boolean>;
  /** {@link evictDurableObject} on this runtime; also takes an id. */
  evictDurableObject(target: Target, options?: EvictOptions): Promise<void>;
  /**
   * Evicts every live object (with `webSockets: "close"`, also closes the
   * sockets of hibernated ones). Evicts all it can, then throws one
   * ERR_NOT_HIBERNATABLE naming those it could not. Resolves with how many were evicted.
   */
  evictAllDurableObjects(options?: EvictOptions): Promise<number>;
  /** Ids in `namespace` with stored data or running now (Cloudflare's `listDurableObjectIds`). */
  listDurableObjectIds<T>(namespace: DurableObjectNamespace<T>): Promise<DurableObjectId[]>;
  /** Opens a WebSocket test client: to a stub's object directly, or to a URL or path through the Worker. */
  connect(target: ConnectTarget, path?: string | ConnectOptions, options?: ConnectOptions): Promise<TestWebSocket>;
  /** {@link lifecycle} on this runtime; also takes an id. */
  lifecycle(target: Target): LifecycleInfo;
  /** {@link hibernationBlockers} on this runtime; also takes an id. */
  hibernationBlockers(target: Target): string[];
  /** Closes the runtime and clients and removes the temp directory (automatic at the end of the test). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A Torpor runtime for one test: isolated storage (a fresh SQLite temp
 * directory), a virtual clock, a recording logger, alarm retries without
 * jitter, and cleanup when the test finishes.
 *
 * @example
 * test("a room counts its sockets", async ({ onTestFinished }) => {
 *   const t = createTestRuntime({ objects: { ROOM: Room }, context: { onTestFinished } });
 *   const stub = t.env.ROOM.getByName("lobby");
 *   const ws = await t.connect(stub, "/join");
 *   await t.evictDurableObject(stub);
 *   ws.send("count");
 *   expect(await ws.next()).toBe("1");
 * });
 */
export function createTestRuntime<O extends ObjectClasses>(options: TestRuntimeOptions<O, "virtual">): TestRuntime<O, VirtualClock>;
export function createTestRuntime<O extends ObjectClasses>(options: TestRuntimeOptions<O, "real">): TestRuntime<O, Clock>;
export function createTestRuntime<O extends ObjectClasses, C extends Clock>(options: TestRuntimeOptions<O, C>): TestRuntime<O, C>;
export function createTestRuntime(options: TestRuntimeOptions<ObjectClasses, "virtual" | "real" | Clock>): TestRuntime<ObjectClasses, Clock> {
  const {
    storage = "sqlite",
    clock: clockOption = "virtual",
    logger: userLogger,
    transport = "memory",
    context,
    fetch: userFetch,
    alarmRetry,
    ...runtimeOptions
  } = options;
  const cleanupWith = cleanupContext(context);
  const clock: Clock = clockOption === "virtual" ? new VirtualClock() : clockOption === "real" ? systemClock : clockOption;
  const recorder = recordingLogger();
  const { provider, dir } = openStorage(storage);
  const route = new ObjectRoute(userFetch as WorkerFetch | undefined);
  let runtime: Runtime;
  try {
    runtime = new Runtime({
      ...runtimeOptions,
      // No random spread, so a retry's time is known: first retry 2 s after the failure, then 4 s, …
      alarmRetry: { jitter: 0, ...alarmRetry },
      fetch: route.fetch,
      storage: provider,
      clock,
      logger: userLogger ?? recorder,
    });
  } catch (error) {
    provider.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  route.attach(runtime);

  const cleanups: Array<() => void> = [];
  let listening: Promise<{ url: string; port: number }> | null = null;
  let url: string | undefined;
  let closing: Promise<void> | null = null;
  const host = (target: Target): ObjectHost => runtime.hostFor(target as ObjectTarget) as ObjectHost;

  const listen = () =>
    (listening ??= runtime.listen({ port: 0 }).then(({ url: u, port }) => {
      url = u;
      return { url: u, port };
    }));
  const connector: Connector = {
    transport,
    fetch: (request) => runtime.fetch(request) as Promise<globalThis.Response>,
    listen: async () => (await listen()).url,
    routeHeaders: (stub) => route.headersFor(stub),
    onCleanup: (fn) => void cleanups.push(fn),
  };
  const listDurableObjectIds = <T>(namespace: DurableObjectNamespace<T>) => listIds(runtime, namespace);

  const close = () =>
    (closing ??= (async () => {
      try {
        await runtime.close();
      } finally {
        for (const fn of cleanups.splice(0)) fn();
        if (dir !== null) rmSync(dir, { recursive: true, force: true });
      }
    })());

  const t: TestRuntime<ObjectClasses, Clock> = {
    runtime,
    env: runtime.env as TestEnv<ObjectClasses>,
    clock,
    logs: userLogger === undefined ? recorder.entries : [],
    storageDir: dir,
    get url() {
      return url;
    },
    listen,
    runInDurableObject: (target, fn) => runInHost(host(target), fn as (instance: unknown, ctx: DurableObjectState) => unknown) as never,
    runDurableObjectAlarm: (target) => host(target).runAlarmNow(),
    evictDurableObject: async (target, evictOptions) => void (await evictHost(host(target), evictOptions)),
    evictAllDurableObjects: (evictOptions) => evictAll(runtime, evictOptions),
    listDurableObjectIds: async (namespace) => listDurableObjectIds(namespace),
    connect: (target, path, connectOptions) => connectWith(connector, target, path, connectOptions),
    lifecycle: (target) => lifecycleOf(host(target)),
    hibernationBlockers: (target) => blockersOf(host(target)),
    close,
    [Symbol.asyncDispose]: close,
  };
  const registered = { connector, listDurableObjectIds };
  register(runtime, registered);
  for (const binding of Object.keys(runtimeOptions.objects)) register(runtime.namespace(binding), registered);
  cleanupWith?.onTestFinished(close);
  return t;
}

async function evictAll(runtime: Runtime, options: EvictOptions = {}): Promise<number> {
  let evicted = 0;
  const failures: string[] = [];
  for (const info of runtime.objects()) {
    if (info.state !== "live" && !(options.webSockets === "close" && info.sockets > 0)) continue;
    const namespace = runtime.namespace(info.binding);
    const id = info.name === undefined ? namespace.idFromString(info.id) : namespace.idFromName(info.name);
    try {
      if (await evictHost(runtime.hostFor(id) as ObjectHost, options)) evicted++;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  if (failures.length > 0)
    throw new TorporError("ERR_NOT_HIBERNATABLE", `${failures.length} object(s) could not be evicted (${evicted} were): ${failures.join(" ")}`);
  return evicted;
}

function openStorage(storage: "sqlite" | "memory" | StorageProvider): { provider: StorageProvider; dir: string | null } {
  if (storage === "memory") return { provider: memoryStorage(), dir: null };
  if (storage !== "sqlite") return { provider: storage, dir: null };
  const dir = mkdtempSync(join(tmpdir(), "torpor-test-"));
  try {
    // Durability across power loss is not what a test checks; OFF keeps commits fast.
    return { provider: sqliteStorage({ dir, synchronous: "OFF" }), dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Where cleanup is registered: the given context, else vitest's current test (refused in concurrent tests, where it may be the wrong one). */
function cleanupContext(context: CleanupContext | null | undefined): CleanupContext | null {
  if (context !== undefined) return context;
  const current = getCurrentTest();
  if (current === undefined) {
    throw new TestingError(
      "ERR_TEST_CONTEXT",
      "createTestRuntime() was called outside a test, so nothing would clean it up. Call it inside test(), pass { context } (the test context), or pass { context: null } and call t.close() yourself.",
    );
  }
  if (current.concurrent === true) {
    throw new TestingError(
      "ERR_TEST_CONTEXT",
      `createTestRuntime() in the concurrent test "${current.name}" needs its test context: test.concurrent("…", async ({ onTestFinished }) => { createTestRuntime({ …, context: { onTestFinished } }) }).`,
    );
  }
  return { onTestFinished: vitest.onTestFinished };
}
