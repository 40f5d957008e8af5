import { TorporError, type DurableObjectId, type DurableObjectNamespace, type Runtime } from "@torpor/core";

/** How {@link listIds} chooses and builds ids. */
export interface ListIdsOptions {
  /**
   * Also list objects that ran at some point and have no data (Cloudflare's
   * integration lists every object that was ever started, its storage file
   * being created on start), and return ids without names, as
   * `idFromString` makes them there. Default false.
   */
  cloudflare?: boolean;
}

/**
 * Ids of the namespace's objects that have stored data or are running now
 * (live, or hibernated with open sockets), sorted by id string. An object
 * that was only addressed (a stub made, nothing stored) is not listed.
 */
export function listIds<T>(runtime: Runtime, namespace: DurableObjectNamespace<T>, options: ListIdsOptions = {}): DurableObjectId[] {
  const cloudflare = options.cloudflare === true;
  if (runtime.namespace(namespace.binding) !== namespace) {
    throw new TorporError(
      "ERR_UNKNOWN_BINDING",
      `This namespace (env.${namespace.binding}) belongs to another runtime; pass the one from this test runtime's env.`,
    );
  }
  const ids = new Map<string, DurableObjectId>();
  const add = (hex: string, name: string | undefined) => {
    if (!ids.has(hex)) ids.set(hex, name === undefined || cloudflare ? namespace.idFromString(hex) : namespace.idFromName(name));
  };
  for (const key of runtime.provider.listObjects(namespace.storageName)) add(key.id, key.name);
  for (const info of runtime.objects({ all: true })) {
    if (info.binding === namespace.binding && (info.state === "live" || info.sockets > 0 || (cloudflare && info.counters.constructed > 0)))
      add(info.id, info.name);
  }
  return [...ids.values()].sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
}
