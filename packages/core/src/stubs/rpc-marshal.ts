import { clone, findByReference } from "./rpc-clone.ts";
import {
  createRpcStub,
  disposeStub,
  disposeValue,
  type Invoke,
  isRpcStub,
  kInvoke,
  notImplemented,
  RpcExport,
  type RpcOp,
  stubExport,
} from "./rpc-reference.ts";
import { RpcTarget } from "./rpc-target.ts";
import { isStub } from "./stub.ts";

/**
 * How stubs already in a value travel. In arguments they are duplicated:
 * the caller keeps its own (workerd's `rpc_params_dup_stubs`, the default
 * from 2026-01-20). In a result they are moved: the sender's stub is
 * disposed and the receiver owns the new one.
 */
export type Direction = "params" | "result";

/** A value as it arrives on the other side of an RPC, and the stubs made for it. */
export interface Marshalled<T> {
  value: T;
  stubs: object[];
}

/**
 * What a value passed by reference becomes for its receiver: in this
 * process a new stub; in another process, an entry in an export table
 * (the cluster's codec, rpc-transfer.ts).
 */
export interface Referrer {
  /** A function, an RpcTarget or a stub's target, to hold for the receiver; `disposed`: the sender's stub was disposed already. */
  reference(exported: RpcExport, disposed: boolean): unknown;
  /** A Durable Object stub. */
  durable(stub: object): unknown;
}

/**
 * Copies an RPC value as workerd's RPC does: structured clone, except that
 * functions and `RpcTarget`s become stubs calling back into them, RPC stubs
 * are duplicated (arguments) or moved (results), and Durable Object stubs
 * pass as they are. Values holding none of those take the plain clone.
 */
export function marshal<T>(value: T, direction: Direction, what: string): Marshalled<T> {
  if (findByReference(value, new Set()) === undefined) return { value: clone(value, what), stubs: [] };
  const stubs: object[] = [];
  const local: Referrer = {
    reference(exported, disposed) {
      const stub = createRpcStub(exported, !disposed);
      stubs.push(stub);
      return stub;
    },
    // A Durable Object stub is a handle to an object wherever it goes in this process: it passes as it is.
    durable: (stub) => stub,
  };
  return { value: copy(value, direction, what, local, new Map()) as T, stubs };
}

/**
 * `marshal` with another receiver: what is passed by reference goes to
 * `referrer` (a cluster worker's export table), and the rest is cloned.
 */
export function marshalWith<T>(value: T, direction: Direction, what: string, referrer: Referrer): T {
  if (findByReference(value, new Set()) === undefined) return clone(value, what);
  return copy(value, direction, what, referrer, new Map()) as T;
}

function copy(value: unknown, direction: Direction, what: string, referrer: Referrer, seen: Map<object, unknown>): unknown {
  if (typeof value !== "object" && typeof value !== "function") return value;
  if (value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  let result: unknown;
  if (isRpcStub(value)) {
    const { exported, disposed } = stubExport(value);
    result = referrer.reference(exported, disposed);
    if (direction === "result") disposeStub(value);
  } else if (typeof value === "function" || value instanceof RpcTarget) {
    result = referrer.reference(exportOf(value, direction), false);
  } else if (isStub(value)) {
    result = referrer.durable(value);
  } else if (findByReference(value, new Set()) === undefined) {
    result = clone(value, what);
  } else if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(copy(item, direction, what, referrer, seen));
    return out;
  } else if (value instanceof Map) {
    const out = new Map();
    seen.set(value, out);
    for (const [k, v] of value) out.set(copy(k, direction, what, referrer, seen), copy(v, direction, what, referrer, seen));
    return out;
  } else if (value instanceof Set) {
    const out = new Set();
    seen.set(value, out);
    for (const item of value) out.add(copy(item, direction, what, referrer, seen));
    return out;
  } else {
    // A plain object (findByReference descends into no other kind).
    const out: Record<string, unknown> = {};
    seen.set(value, out);
    for (const [k, v] of Object.entries(value)) out[k] = copy(v, direction, what, referrer, seen);
    return out;
  }
  seen.set(value, result);
  return result;
}

/**
 * The export for a function or an RpcTarget sent by reference. In
 * arguments, a `dup()` method of its own is called and the duplicate is
 * exported instead, as workerd does.
 */
function exportOf(value: object, direction: Direction): RpcExport {
  let exported = value;
  const dup = (value as { dup?: unknown }).dup;
  if (direction === "params" && typeof dup === "function") {
    const replacement = dup.call(value) as unknown;
    const isFunction = typeof value === "function";
    if (isFunction ? typeof replacement !== "function" : !(replacement instanceof RpcTarget)) {
      const kind = isFunction ? "function" : "RcpTarget";
      const other = isFunction ? "another function" : "another RpcTarget";
      throw new DOMException(
        `Couldn't create a stub for the ${kind} because it has a dup() method which did not return ${other}. Either remove the dup() method or make sure it returns ${isFunction ? "a function" : "an RpcTarget"}.`,
        "DataCloneError",
      );
    }
    exported = replacement as object;
  }
  return new RpcExport(exported, (path, args, op) => invokeValue(exported, path, args, op));
}

/**
 * A value given to `new RpcStub(value)`: a function, an RpcTarget, or a
 * plain object (whose own properties are then its members).
 */
export function exportForStub(value: object): RpcExport {
  return new RpcExport(value, (path, args, op) => invokeValue(value, path, args, op));
}

/** Names no stub may call (workerd's reserved names for RpcTarget receivers). */
const RESERVED = new Set(["dup", "constructor"]);

/**
 * Runs a call or read that arrived through a stub, on the value it refers
 * to, with workerd's lookup rules: an RpcTarget offers its class's members
 * (not its own instance properties, nor Object.prototype's); a plain object
 * or a function offers its own properties; a stub met on the way takes the
 * rest of the path.
 */
async function invokeValue(root: object, path: readonly string[], args: unknown[], op: RpcOp): Promise<unknown> {
  let current: unknown = root;
  let self: unknown;
  for (let i = 0; i < path.length; i++) {
    const name = path[i]!;
    if ((typeof current !== "object" && typeof current !== "function") || current === null) throw notImplemented(name);
    // A stub met on the way (an RpcTarget's member holding one) takes the rest of the path.
    const through = (current as { [kInvoke]?: Invoke })[kInvoke];
    if (typeof through === "function") return through(path.slice(i), args, op);
    if (RESERVED.has(name)) throw new TypeError(`'${name}' is a reserved method and cannot be called over RPC.`);
    const holder = current as Record<string, unknown>;
    if (current instanceof RpcTarget) {
      if (Object.hasOwn(holder, name) || holder[name] === (Object.prototype as Record<string, unknown>)[name]) throw notImplemented(name);
    } else if (!Object.hasOwn(holder, name)) {
      throw notImplemented(name);
    }
    self = current;
    current = holder[name];
  }
  const label = path.join(".");
  if (op === "get") return call(() => current, [], label);
  if (typeof current !== "function") throw new TypeError(`"${label}" is not a function.`);
  const fn = current as (...a: unknown[]) => unknown;
  return call((received) => fn.apply(self, received), args, label === "" ? "a function" : `${label}()`);
}

/** How a call whose caller is in another process (a cluster worker) spares copies its values get anyway. */
export interface CallOptions {
  /**
   * The arguments are the callee's own already (decoded from the caller's message, held by nobody else): unless they
   * hold references, they are not copied again.
   */
  freshArgs?: boolean;
  /**
   * A result that holds no reference is given to `encode` (which serializes it for the caller's process, so it is a
   * snapshot taken where the copy would be) instead of being copied; the call resolves to what `encode` returns.
   * `encode` throws what a copy would (ERR_RPC_CLONE).
   */
  encode?: (value: unknown, what: string) => unknown;
}

/**
 * One RPC hop in this process: the arguments marshalled for the callee, the
 * callee run, its result marshalled for the caller, and the callee's stubs
 * from the arguments disposed once the call is over (unless it `dup()`ed
 * them), as workerd does.
 */
export function call(run: (args: unknown[]) => unknown, args: unknown[], what: string, options?: CallOptions): Promise<unknown> {
  let params: Marshalled<unknown[]>;
  let running: Promise<unknown>;
  try {
    params =
      options?.freshArgs === true && findByReference(args, new Set()) === undefined
        ? { value: args, stubs: [] }
        : marshal(args, "params", `the arguments of ${what}`);
    running = Promise.resolve(run(params.value));
  } catch (error) {
    return Promise.reject(error);
  }
  const stubs = params.stubs;
  const encode = options?.encode;
  // Most calls pass no references: no disposal step (this path is every RPC call's).
  if (stubs.length === 0) {
    if (encode !== undefined) return running.then((value) => encodeOrMarshal(value, `the result of ${what}`, encode));
    return running.then((value) => result(value, `the result of ${what}`));
  }
  const disposeParams = () => {
    for (const stub of stubs) disposeStub(stub);
  };
  return running.then(
    (value) => {
      try {
        return encode !== undefined ? encodeOrMarshal(value, `the result of ${what}`, encode) : result(value, `the result of ${what}`);
      } finally {
        disposeParams();
      }
    },
    (error: unknown) => {
      disposeParams();
      throw error;
    },
  );
}

/** A result without references encoded for another process, else marshalled as in one process (stubs moved). */
export function encodeOrMarshal(value: unknown, what: string, encode: (value: unknown, what: string) => unknown): unknown {
  return findByReference(value, new Set()) === undefined ? encode(value, what) : result(value, what);
}

/**
 * A result (or a property read) marshalled for its caller. An object result
 * gets `Symbol.dispose`, which disposes every stub in it (workerd's
 * shortcut for `using result = await stub.method()`).
 */
export function result(value: unknown, what: string): unknown {
  return disposable(marshal(value, "result", what).value);
}

/** An object or array result given `Symbol.dispose`, which disposes every stub in it (other values as they are). */
export function disposable(out: unknown): unknown {
  const plain = Array.isArray(out) || (typeof out === "object" && out !== null && Object.getPrototypeOf(out) === Object.prototype);
  if (plain && !Object.hasOwn(out, Symbol.dispose)) {
    Object.defineProperty(out, Symbol.dispose, { value: () => disposeValue(out), writable: true, configurable: true });
  }
  return out;
}
