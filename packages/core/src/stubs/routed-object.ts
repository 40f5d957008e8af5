import type { ObjectHost } from "../object/object-host.ts";
import type { ObjectKey } from "../storage/storage-provider.ts";
import type { HostDirectory } from "../ids/host-directory.ts";

/**
 * What a stub holds in a runtime with a host directory: the object's key and
 * the way to both of its possible homes. Ownership is looked up on every
 * call, because it moves (a reload hands objects to new workers).
 */
export class RoutedObject {
  constructor(
    readonly key: ObjectKey,
    readonly directory: HostDirectory,
    readonly localHost: () => ObjectHost,
  ) {}

  /** The host in this process when it owns the object now, else null. */
  local(): ObjectHost | null {
    return this.directory.isLocal(this.key) ? this.localHost() : null;
  }
}
