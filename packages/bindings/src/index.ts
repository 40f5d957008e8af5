export { definePlugin } from "./binding-plugin.ts";
export type { BindingContext, BindingPlugin, BoundValues } from "./binding-plugin.ts";
export { BINDING_PLUGINS, bindingWarnings, boundNames, createBindings } from "./plugins.ts";
export type { BindingsConfig } from "./plugins.ts";
export { BUSY_TIMEOUT_MS, openSharedDatabase } from "./shared-database.ts";
export { storageName, storagePath } from "./storage-names.ts";
export { KvNamespace, KV_LIMITS, type KvListKey, type KvListResult } from "./kv/kv-namespace.ts";
export { kvPlugin, type KvConfig } from "./kv/kv-plugin.ts";
