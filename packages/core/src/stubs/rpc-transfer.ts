/**
 * RPC values that cross to another process (a cluster worker) with their
 * references: what rpc-marshal.ts does within one process, with an export
 * table in place of the shared heap. A function, an RpcTarget or a stub is
 * held by the sender (an entry of its export table) and travels as a
 * placeholder, an empty object named in the message's `refs` list: the
 * structured clone keeps object identity within one message, so the
 * receiver finds each placeholder where the value was and puts a stub
 * there, whose calls go back to the sender. Nothing a user value could look
 * like is mistaken for a reference.
 */
import type { DurableObjectId } from "../ids/id.ts";
import { findByReference } from "./rpc-clone.ts";
import { marshalWith, type Direction } from "./rpc-marshal.ts";
import { createRpcStub, disposeStub, type Invoke, RpcExport } from "./rpc-reference.ts";

/** One reference in a message: an entry of the sender's export table, a stub disposed before it was sent, or a Durable Object. */
export type WireRef = { id: number } | { disposed: true } | { durable: { namespace: string; id: string; name?: string } };

/** A placeholder and the reference it stands for. */
export type WireRefs = Array<[placeholder: object, ref: WireRef]>;

/** A value ready for the wire: references replaced by placeholders, listed in `refs` (absent when there are none). */
export interface Transferred<T> {
  value: T;
  refs?: WireRefs;
}

/**
 * Copies `value` for another process. `exportRef` holds each referenced
 * value for the receiver (it retains `exported` once, and releases it when
 * the receiver says so or goes away) and names it. Throws what marshal
 * throws (ERR_RPC_CLONE for what cannot be copied), and what `exportRef`
 * throws (a full table). `fresh`: the value is a copy nobody else holds
 * (core's `result()` made it), so without references it is not copied again.
 */
export function transferOut<T>(value: T, direction: Direction, what: string, exportRef: (exported: RpcExport) => number, fresh = false): Transferred<T> {
  // A value that is already a private copy (a result marshalled in this process) and holds no reference goes as it is.
  if (fresh && findByReference(value, new Set()) === undefined) return { value };
  const refs: WireRefs = [];
  const out = marshalWith(value, direction, what, {
    reference(exported, disposed) {
      const placeholder = {};
      refs.push([placeholder, disposed ? { disposed: true } : { id: exportRef(exported) }]);
      return placeholder;
    },
    durable(stub) {
      const id = (stub as { id: DurableObjectId }).id;
      const placeholder = {};
      refs.push([placeholder, { durable: { namespace: id.namespaceKey, id: id.toString(), ...(id.name !== undefined ? { name: id.name } : {}) } }]);
      return placeholder;
    },
  });
  return refs.length === 0 ? { value: out } : { value: out, refs };
}

/** How a receiver turns references into stubs: an imported entry (calls go back to its sender), or a Durable Object stub. */
export interface Importer {
  imported(id: number): object;
  durable(key: { namespace: string; id: string; name?: string }): object;
}

/**
 * The value as its receiver uses it: each placeholder replaced by a stub.
 * `stubs` gets the RPC stubs made (a callee disposes those of its arguments
 * when its call returns). The value is fresh from the wire: changed in place.
 */
export function transferIn(value: unknown, refs: WireRefs | undefined, importer: Importer, stubs: object[] = []): unknown {
  if (refs === undefined || refs.length === 0) return value;
  const made = new Map<object, unknown>();
  for (const [placeholder, ref] of refs) {
    let stub: object;
    if ("id" in ref) stub = importer.imported(ref.id);
    else if ("durable" in ref) {
      made.set(placeholder, importer.durable(ref.durable));
      continue;
    } else {
      stub = createRpcStub(new RpcExport({}, () => Promise.reject(new Error("RPC stub used after being disposed."))), false);
    }
    stubs.push(stub);
    made.set(placeholder, stub);
  }
  return replace(value, made, new Set());
}

function replace(value: unknown, made: Map<object, unknown>, seen: Set<object>): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (made.has(value)) return made.get(value);
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = replace(value[i], made, seen);
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [replace(k, made, seen), replace(v, made, seen)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
  } else if (value instanceof Set) {
    const items = [...value].map((item) => replace(item, made, seen));
    value.clear();
    for (const item of items) value.add(item);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = replace(record[key], made, seen);
  }
  return value;
}

/**
 * A stub to a value another process holds: `invoke` sends calls there;
 * `release` tells it the last stub here is gone (disposed, or collected by
 * the garbage collector without being disposed). `release` runs once.
 */
export function importedStub(invoke: Invoke, release: () => void): object {
  const state = { released: false };
  const once = () => {
    if (state.released) return;
    state.released = true;
    release();
  };
  const exported = new RpcExport({ [Symbol.dispose]: once }, invoke);
  // A stub dropped without dispose() would pin its sender's entry for the life of the process: collected, it releases.
  collected.register(exported, once);
  return createRpcStub(exported);
}

const collected = new FinalizationRegistry<() => void>((release) => release());

/** Disposes the stubs a callee got in its arguments (its own `dup()`s live on), as a call in one process does. */
export function disposeAll(stubs: readonly object[]): void {
  for (const stub of stubs) disposeStub(stub);
}
