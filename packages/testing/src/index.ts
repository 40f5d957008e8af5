// Test runtime
export { createTestRuntime } from "./test-runtime.ts";
export type { TestRuntime, TestRuntimeOptions, TestEnv, CleanupContext } from "./test-runtime.ts";
export { recordingLogger } from "@torpor/core";
export type { RecordingLogger, LogEntry } from "@torpor/core";
export { VirtualClock } from "@torpor/core";

// Cloudflare-compatible verbs
export { runInDurableObject, runDurableObjectAlarm } from "./run-in.ts";
export type { InstanceOf } from "./run-in.ts";
export { evictDurableObject, EVICT_CLOSE_CODE, EVICT_CLOSE_REASON } from "./evict.ts";
export type { EvictOptions } from "./evict.ts";
export { listDurableObjectIds, connect } from "./registry.ts";

// WebSocket test clients
export type { ConnectOptions, ConnectTarget } from "./connect.ts";
export type { TestWebSocket, TestMessage, CloseInfo, Transport } from "./test-socket.ts";

// Under the vitest plugin (@torpor/testing/vitest): this test file's runtime
export { workerRuntime } from "./vitest/worker-runtime.ts";
export type { WorkerRuntime } from "./vitest/worker-runtime.ts";

// Beyond Cloudflare
export { lifecycle, hibernationBlockers } from "./lifecycle.ts";
export type { LifecycleInfo } from "./lifecycle.ts";
export { installMatchers } from "./matchers.ts";
export type { TorporMatchers } from "./matchers.ts";

// Errors and the storage contract
export { TestingError } from "./errors.ts";
export type { TestingErrorCode } from "./errors.ts";
export { describeStorageConformance, testObjectId } from "./storage-conformance.ts";
export type { StorageConformanceSubject } from "./storage-conformance.ts";
