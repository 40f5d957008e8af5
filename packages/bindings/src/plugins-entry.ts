// `@torpor/bindings/plugins`: the binding plugins (each config key's schema, names, warnings and `create`)
// without their implementations, which each plugin imports only when the config asks for it. A cluster
// supervisor reads the config through this and never loads KV, D1, R2 or assets; a worker loads only the
// kinds its config binds.
export { BINDING_PLUGINS, bindingWarnings, boundNames, createBindings, type BindingsConfig } from "./plugins.ts";
export type { BindingContext, BindingPlugin, BoundValues } from "./binding-plugin.ts";
export { storageName, storagePath } from "./storage-names.ts";
