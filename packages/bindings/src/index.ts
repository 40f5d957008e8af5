export { definePlugin } from "./binding-plugin.ts";
export type { BindingContext, BindingPlugin, BoundValues } from "./binding-plugin.ts";
export { BINDING_PLUGINS, bindingWarnings, boundNames, createBindings } from "./plugins.ts";
export type { BindingsConfig } from "./plugins.ts";
export { BUSY_TIMEOUT_MS, openSharedDatabase } from "./shared-database.ts";
export { assetsPlugin } from "./assets/assets-plugin.ts";
export type { AssetsConfig } from "./assets/assets-config.ts";
export { AssetServer } from "./assets/asset-server.ts";
