import { assetsPlugin } from "./assets/assets-plugin.ts";
import type { BindingContext, BindingPlugin, BoundValues } from "./binding-plugin.ts";
import { d1Plugin } from "./d1/d1-plugin.ts";
import { kvPlugin } from "./kv/kv-plugin.ts";
import { r2Plugin } from "./r2/r2-plugin.ts";

/**
 * Every binding Torpor provides, one plugin per wrangler config key. The CLI's config
 * schema takes each plugin's schema for its key; keys listed here are no longer
 * "ignored" warnings.
 */
export const BINDING_PLUGINS: readonly BindingPlugin[] = [
  assetsPlugin as BindingPlugin,
  kvPlugin as BindingPlugin,
  d1Plugin as BindingPlugin,
  r2Plugin as BindingPlugin,
];

/** The parsed values of the plugins' config keys, by key (plain JSON). */
export type BindingsConfig = Record<string, unknown>;

/** The env names a config binds, each with the key that binds it, in config order. */
export function boundNames(config: BindingsConfig, plugins: readonly BindingPlugin[] = BINDING_PLUGINS): Array<{ name: string; key: string }> {
  const out: Array<{ name: string; key: string }> = [];
  for (const plugin of plugins) {
    const value = config[plugin.key];
    if (value !== undefined) for (const name of plugin.names(value)) out.push({ name, key: plugin.key });
  }
  return out;
}

/** Warnings about parts of the config that have no effect here, one line each. */
export function bindingWarnings(config: BindingsConfig, file: string, plugins: readonly BindingPlugin[] = BINDING_PLUGINS): string[] {
  return plugins.flatMap((plugin) => {
    const value = config[plugin.key];
    return value === undefined ? [] : (plugin.warnings?.(value, file) ?? []);
  });
}

/**
 * Makes every binding the config asks for. A plugin that fails to start closes
 * the ones already made before the error goes on.
 */
export async function createBindings(
  config: BindingsConfig,
  context: BindingContext,
  plugins: readonly BindingPlugin[] = BINDING_PLUGINS,
): Promise<BoundValues> {
  const made: BoundValues[] = [];
  const close = async () => {
    for (const values of made.reverse()) await values.close();
  };
  try {
    for (const plugin of plugins) {
      const value = config[plugin.key];
      if (value !== undefined) made.push(await plugin.create(value, context));
    }
  } catch (error) {
    await close();
    throw error;
  }
  // At most one binding answers requests before the Worker (only `assets` does).
  const route = made.find((m) => m.route !== undefined)?.route;
  return { env: Object.assign({}, ...made.map((m) => m.env)), close, ...(route !== undefined ? { route } : {}) };
}
