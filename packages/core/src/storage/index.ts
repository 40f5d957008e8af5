/**
 * `@torpor/core/storage`: the contract a storage provider implements and the
 * helpers every provider shares (the user-facing API built over a
 * provider's primitives, key and value validation). Durable Object code
 * never needs this entry; `@torpor/storage-sqlite` and tests do.
 */
export type * from "./storage-provider.ts";
export { createStorageApi, type StorageBackend } from "./storage-api.ts";
export { commitFailed, WriteBatch, type CommitStep } from "./write-batch.ts";
export * from "./storage-validation.ts";
// Providers throw the same workerd-shaped errors as the rest of the API.
export { argumentTypeError, workerdError, type CodedError } from "../errors.ts";
// The zod pieces Torpor's option schemas share (providers' and the CLI's too), so each is written once.
export { nonNegativeInt, positiveInt } from "../options.ts";
export { memoryStorage, type MemoryStorageOptions } from "./memory-storage.ts";
