/** Plays the runtime's part for one object in these tests: commit at the end of the turn, on sync(), and by hand. */
import { createHash } from "node:crypto";
import type { StorageProvider } from "@torpor/core";
import type { ObjectKey, ObjectStorage, StorageHooks } from "@torpor/core/storage";

export function objectKey(name: string, namespace = "TEST"): ObjectKey {
  return { namespace, id: createHash("sha256").update(`${namespace}/${name}`).digest("hex") };
}

/** Opens `key` with hooks that commit at the end of the turn (setImmediate), like the runtime. */
export function openObject(provider: StorageProvider, key: ObjectKey): ObjectStorage {
  let storage: ObjectStorage | undefined;
  let scheduled = false;
  const hooks: StorageHooks = {
    writeStarted() {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        storage!.commit();
      });
    },
    alarmChanged() {},
    flush: async () => storage!.commit(),
    holdInput: (p) => p,
  };
  storage = provider.open(key, hooks);
  return storage;
}
