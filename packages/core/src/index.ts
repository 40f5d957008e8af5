export { Runtime } from "./runtime.ts";
export type { ObjectInfo, ObjectTarget, WorkerFetch } from "./runtime.ts";
export type { RuntimeOptions, ResolvedOptions, Limits, AlarmRetryOptions, ServerLimits } from "./options.ts";
export type { ListenOptions } from "./server.ts";

export { DurableObject } from "./durable-object.ts";
export { DurableObjectState } from "./state.ts";
export { DurableObjectId } from "./id.ts";
export { DurableObjectNamespace } from "./namespace.ts";
export type { DurableObjectStub } from "./stub.ts";
/** @internal the host behind a stub, for @torpor/testing. */
export { hostOf } from "./stub.ts";
export { ExecutionContext } from "./execution-context.ts";
export type { ObjectLifecycle, DurableObjectClass } from "./object-host.ts";
export type { ObjectCounters } from "./metrics.ts";
export { Metrics } from "./metrics.ts";

export { WebSocket, WebSocketPair } from "./web-socket.ts";
export type { WebSocketMessageEvent, WebSocketCloseEvent, WebSocketErrorEvent } from "./web-socket.ts";
export { WebSocketRequestResponsePair } from "./auto-response.ts";
export { Response, jsonError } from "./response.ts";
export type { TorporResponseInit } from "./response.ts";
export { installGlobals } from "./globals.ts";
export { RpcTarget } from "./rpc-target.ts";
/** @internal what runs a Worker (the CLI, a test plugin) sets for `cloudflare:workers`'s `env` and `exports`. */
export { setWorkerEnv, setWorkerExports } from "./worker-env.ts";
export { CLOUDFLARE_MODULES, resolveCloudflareModule, cloudflareModuleNotProvided } from "./cloudflare-modules.ts";

export { systemClock } from "./clock.ts";
export { VirtualClock } from "./virtual-clock.ts";
export type { Clock, TimerHandle } from "./clock.ts";
export { consoleLogger, jsonLogger, silentLogger } from "./logger.ts";
export type { Logger, LogLevel } from "./logger.ts";
export { TorporError } from "./errors.ts";
export type { TorporErrorCode } from "./errors.ts";

export { memoryStorage } from "./memory-storage.ts";
export type { MemoryStorageOptions } from "./memory-storage.ts";
export type * from "./storage.ts";
/** The provider a Runtime is given; the rest of the provider contract is in `@torpor/core/storage`. */
export type { StorageProvider } from "./storage-provider.ts";
export type { StorageLimits } from "./storage-validation.ts";
