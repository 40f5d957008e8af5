export { Runtime } from "./runtime/runtime.ts";
export type { ObjectInfo, ObjectTarget, WorkerFetch } from "./runtime/runtime.ts";
export type { Limits, AlarmRetryOptions, ServerLimits } from "./options.ts";
export type { RuntimeOptions, ResolvedOptions } from "./runtime/runtime-options.ts";
export { runtimeDefaults } from "./runtime/runtime-options.ts";
export type { ListenOptions } from "./http/server.ts";

export { DurableObject } from "./object/durable-object.ts";
export { DurableObjectState } from "./object/state.ts";
export { DurableObjectId } from "./ids/id.ts";
export { DurableObjectNamespace } from "./stubs/namespace.ts";
export type { DurableObjectStub } from "./stubs/stub.ts";
/** @internal the host behind a stub, for @torpor/testing. */
export { hostOf } from "./stubs/stub.ts";
export { ExecutionContext } from "./object/execution-context.ts";
export type { ObjectLifecycle, DurableObjectClass } from "./object/object-host.ts";
export type { HostControl } from "./object/host-control.ts";
export type { ObjectCounters } from "./metrics.ts";
export { Metrics } from "./metrics.ts";

export { WebSocket, WebSocketPair } from "./websocket/web-socket.ts";
export type { WebSocketMessageEvent, WebSocketCloseEvent, WebSocketErrorEvent } from "./websocket/web-socket.ts";
export { WebSocketRequestResponsePair } from "./websocket/auto-response.ts";
export { Response, jsonError } from "./http/response.ts";
export type { TorporResponseInit } from "./http/response.ts";
export { installGlobals } from "./http/globals.ts";
// For other RPC surfaces (service bindings, entrypoints) to pass values as Durable Object RPC does.
export { call as rpcCall, result as rpcResult } from "./stubs/rpc-marshal.ts";
export { RpcStub } from "./stubs/rpc-stub.ts";
export { RpcTarget } from "./stubs/rpc-target.ts";
/** For bindings that reach storage outside the object (KV, D1, R2): run the request behind the calling object's output gate, as workerd does. */
export { afterOutputGate } from "./object/incarnation.ts";
export { requestWithGatedBody } from "./http/gated-request-body.ts";
/** @internal what runs a Worker (the CLI, a test plugin) sets for `cloudflare:workers`'s `env` and `exports`. */
export { setWorkerEnv, setWorkerExports } from "./runtime/worker-env.ts";
export { CLOUDFLARE_MODULES, resolveCloudflareModule, cloudflareModuleNotProvided } from "./cloudflare/modules.ts";

export { resolveCompatibility, HONOURED_FLAGS, DEFAULT_COMPATIBILITY_DATE } from "./compatibility.ts";
export type { CompatibilityFlags } from "./compatibility.ts";

export { systemClock } from "./clock.ts";
export { VirtualClock } from "./virtual-clock.ts";
export type { Clock, TimerHandle } from "./clock.ts";
export { consoleLogger, jsonLogger, jsonLine, logsAt, recordingLogger, silentLogger } from "./logger.ts";
export type { Logger, LogLevel, LogEntry, RecordingLogger } from "./logger.ts";
export { TorporError } from "./errors.ts";
export type { TorporErrorCode } from "./errors.ts";

export { memoryStorage } from "./storage/memory-storage.ts";
export type { MemoryStorageOptions } from "./storage/memory-storage.ts";
export type * from "./storage/storage.ts";
/** The provider a Runtime is given; the rest of the provider contract is in `@torpor/core/storage`. */
export type { StorageProvider } from "./storage/storage-provider.ts";
export type { StorageLimits } from "./storage/storage-validation.ts";
