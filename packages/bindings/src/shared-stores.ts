import type { BoundValues } from "./binding-plugin.ts";

/**
 * The bindings of one config key whose entries may name the same storage
 * (two KV bindings with one id, two D1 bindings with one database): each
 * location is opened once and shared by every binding naming it, and each is
 * closed on `close()`, or at once if opening a later one throws, so a failed
 * start leaves no file open.
 */
export function bindSharedStores<E extends { binding: string }, S extends { close(): void }>(
  entries: readonly E[],
  locate: (entry: E) => string,
  open: (location: string) => S,
  bind: (store: S) => unknown,
): BoundValues {
  const stores = new Map<string, S>();
  const closeAll = () => {
    for (const store of stores.values()) store.close();
  };
  try {
    const env: Record<string, unknown> = {};
    for (const entry of entries) {
      const location = locate(entry);
      let store = stores.get(location);
      if (store === undefined) {
        store = open(location);
        stores.set(location, store);
      }
      env[entry.binding] = bind(store);
    }
    return { env, close: closeAll };
  } catch (error) {
    closeAll();
    throw error;
  }
}
