export { definePlugin } from "./binding-plugin.ts";
export type { BindingContext, BindingPlugin, BoundValues } from "./binding-plugin.ts";
export { BINDING_PLUGINS, bindingWarnings, boundNames, createBindings } from "./plugins.ts";
export type { BindingsConfig } from "./plugins.ts";
export { BUSY_TIMEOUT_MS, openSharedDatabase } from "./shared-database.ts";
export { storageName, storagePath } from "./storage-names.ts";
export { KvNamespace, KV_LIMITS, type KvListKey, type KvListResult } from "./kv/kv-namespace.ts";
export { kvPlugin, type KvConfig } from "./kv/kv-plugin.ts";
export { assetsPlugin } from "./assets/assets-plugin.ts";
export type { AssetsConfig } from "./assets/assets-config.ts";
export { AssetServer } from "./assets/asset-server.ts";
export { HTMLRewriter } from "./html-rewriter/html-rewriter.ts";
export { Cache, CacheStorage, openCaches, type CacheQueryOptions, type CacheStorageOptions } from "./cache/cache.ts";
export { CACHE_STORE_LIMITS, type CacheStoreLimits } from "./cache/cache-store.ts";
export { D1Database, D1DatabaseSession, D1PreparedStatement, type D1Result, type D1ExecResult } from "./d1/d1-api.ts";
export { D1Engine, D1Failure, SERVED_BY, type D1Meta, type D1Query, type D1QueryResult, type D1Value } from "./d1/d1-engine.ts";
export { d1Plugin, d1DatabaseId, d1DatabasePath, type D1Config, type D1DatabaseConfig } from "./d1/d1-plugin.ts";
export {
  applyMigrations,
  compareMigrationNames,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_MIGRATIONS_TABLE,
  migrationFiles,
  migrationQueries,
  migrationsLayout,
  MigrationError,
  readD1Migrations,
  type D1Migration,
  type MigrationsLayout,
} from "./d1/d1-migrations.ts";
export { R2Bucket, R2MultipartUpload, type R2Objects, type R2UploadedPart } from "./r2/r2-bucket.ts";
export { HeadResult as R2Object, GetResult as R2ObjectBody, Checksums as R2Checksums, type R2Range } from "./r2/r2-object.ts";
export { R2_LIMITS } from "./r2/r2-limits.ts";
export { r2Plugin, r2BucketId, type R2Config, type R2BucketConfig } from "./r2/r2-plugin.ts";
