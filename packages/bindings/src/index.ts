export { definePlugin } from "./binding-plugin.ts";
export type { BindingContext, BindingPlugin, BoundValues } from "./binding-plugin.ts";
export { BINDING_PLUGINS, bindingWarnings, boundNames, createBindings } from "./plugins.ts";
export type { BindingsConfig } from "./plugins.ts";
export { BUSY_TIMEOUT_MS, openSharedDatabase } from "./shared-database.ts";
