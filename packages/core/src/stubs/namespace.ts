import { argumentTypeError, TorporError } from "../errors.ts";
import { DurableObjectId, hexFromName, parseHex, uniqueHex } from "../ids/id.ts";
import { createStub, type DurableObjectStub } from "./stub.ts";
import type { StubTarget } from "./stub-target.ts";

/** What a namespace needs from its runtime. */
export interface NamespaceRuntime {
  /** What a stub for `id` calls (the placement layer decides). */
  target(namespace: NamespaceKey, id: DurableObjectId): StubTarget;
}

/** What identifies a namespace to its runtime. */
export interface NamespaceKey {
  readonly binding: string;
  readonly storageName: string;
}

/**
 * A binding to one Durable Object class (Cloudflare's
 * `DurableObjectNamespace`): makes ids and stubs.
 *
 * @example
 * const stub = env.ROOMS.getByName("lobby");
 * const response = await stub.fetch("http://do/join");
 */
export class DurableObjectNamespace<T = Record<string, unknown>> {
  readonly #runtime: NamespaceRuntime;
  /** The binding name (`env.<name>`). */
  readonly binding: string;
  /** The storage name: objects' data lives under it. */
  readonly storageName: string;

  /** @internal created by the runtime. */
  constructor(runtime: NamespaceRuntime, binding: string, storageName: string) {
    this.#runtime = runtime;
    this.binding = binding;
    this.storageName = storageName;
  }

  /**
   * The id of the object called `name` (deterministic: same name, same id).
   * A non-string is converted to a string first, as workerd does (`5` is `"5"`).
   */
  idFromName(name: string): DurableObjectId {
    const text = String(name);
    return new DurableObjectId(hexFromName(this.storageName, text), this.storageName, text);
  }

  /** A new random id. `options.jurisdiction` is accepted and ignored (one location). */
  newUniqueId(_options?: { jurisdiction?: string }): DurableObjectId {
    return new DurableObjectId(uniqueHex(), this.storageName);
  }

  /** Parses an id from `id.toString()`; anything but 64 hex digits throws workerd's TypeError (code ERR_INVALID_ID). */
  idFromString(value: string): DurableObjectId {
    return new DurableObjectId(parseHex(value), this.storageName);
  }

  /** A stub for the object with this id. `options` (location hints) are accepted and ignored. */
  get(id: DurableObjectId, _options?: { locationHint?: string }): DurableObjectStub<T> {
    if (!(id instanceof DurableObjectId)) {
      throw argumentTypeError("get", "DurableObjectNamespace", 1, "DurableObjectId");
    }
    if (id.namespaceKey !== this.storageName) {
      throw new TorporError(
        "ERR_ID_WRONG_NAMESPACE",
        `This id belongs to namespace "${id.namespaceKey}", not "${this.storageName}". Make the id with env.${this.binding}.idFromName() or idFromString().`,
      );
    }
    return createStub<T>(this.#runtime.target(this, id), id);
  }

  /** Shorthand for `get(idFromName(name))`. */
  getByName(name: string, options?: { locationHint?: string }): DurableObjectStub<T> {
    return this.get(this.idFromName(name), options);
  }

  /** Jurisdictions are a placement concept; a single-node runtime returns the same namespace. */
  jurisdiction(_name: string): DurableObjectNamespace<T> {
    return this;
  }
}
