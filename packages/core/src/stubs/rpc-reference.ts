/**
 * RPC by reference, as workerd's JS RPC: a function or an `RpcTarget` sent
 * through RPC is exported (held here, counted by its live stubs), and the
 * receiver gets a stub that calls back into it. Stubs are disposable
 * (`Symbol.dispose`, `dup()`), and every call returns a promise that can be
 * pipelined (`stub.getCounter().increment()` before the counter arrives).
 */
import { afterOutputGate } from "../object/incarnation.ts";

/** A call (`op` "call") or a property read ("get") along a property path of a stub's value. */
export type RpcOp = "call" | "get";

/** How a stub reaches its value: the path of property names from it, the arguments, the operation. */
export type Invoke = (path: readonly string[], args: unknown[], op: RpcOp) => Promise<unknown>;

/**
 * The key under which stubs (RPC stubs and Durable Object stubs) answer
 * their `Invoke`, so a pipelined call on a result holding one goes through
 * it. A symbol: never an RPC member.
 */
export const kInvoke = Symbol("torpor.rpcInvoke");

/**
 * A value passed by reference (a function, an `RpcTarget`, an object given
 * to `new RpcStub`): held while any stub to it lives. When the last stub is
 * disposed, the value's own `Symbol.dispose` runs, after the current turn
 * (workerd disposes the target asynchronously too).
 */
export class RpcExport {
  #stubs = 0;

  constructor(
    readonly value: object,
    readonly invoke: Invoke,
  ) {}

  /** One more stub refers to the value. */
  retain(): void {
    this.#stubs++;
  }

  /** One stub less; the last one runs the value's disposer. */
  release(): void {
    if (--this.#stubs > 0) return;
    const value = this.value as { [Symbol.dispose]?: unknown };
    const dispose = value[Symbol.dispose];
    if (typeof dispose !== "function") return;
    queueMicrotask(() => {
      try {
        dispose.call(value);
      } catch {
        // Nobody awaits a disposer (workerd reports it to the console only); the caller's work is done.
      }
    });
  }
}

/** workerd's error for any use of a disposed stub. */
function disposedStub(): Error {
  return new Error("RPC stub used after being disposed.");
}

/** One stub's hold on its export: disposed once, after which every call fails. */
class StubHold {
  disposed: boolean;

  /** `live` false: a stub born disposed (a copy of a disposed stub), which never held the export. */
  constructor(
    readonly exported: RpcExport,
    live = true,
  ) {
    this.disposed = !live;
    if (live) exported.retain();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.exported.release();
  }

  // A call through a stub leaves once the calling object's writes so far are durable, whatever the stub points at (a
  // handle another object exported, a local function), as workerd's RPC calls wait for the output locks.
  readonly invoke: Invoke = (path, args, op) => (this.disposed ? Promise.reject(disposedStub()) : afterOutputGate(() => this.exported.invoke(path, args, op)));
}

const kHold = Symbol("torpor.rpcStubHold");

/** workerd's TypeError for `RpcStub(x)` (and `stub.constructor(x)`) without `new`. */
export const NEW_REQUIRED = "Failed to construct 'JsRpcStub': Please use the 'new' operator, this object constructor cannot be called as a function.";

/** What `stub.constructor` is: the `RpcStub` class once rpc-stub.ts has registered it (it imports this module, not the reverse). */
let stubConstructor: unknown = function JsRpcStub() {
  throw new TypeError(NEW_REQUIRED);
};

/** @internal rpc-stub.ts registers `RpcStub` as every stub's `constructor`. */
export function setStubConstructor(rpcStubClass: unknown): void {
  stubConstructor = rpcStubClass;
}

type StubShell = (() => void) & { [kHold]: StubHold };

// One handler for every stub; the hold rides on the proxy's target (an arrow function: no `prototype` to pin).
const stubHandler: ProxyHandler<StubShell> = {
  get(shell, prop) {
    const hold = shell[kHold];
    if (prop === kHold) return hold;
    if (prop === kInvoke) return hold.invoke;
    if (prop === "dup") return () => dupStub(hold);
    if (prop === Symbol.dispose) return () => hold.dispose();
    if (prop === Symbol.toStringTag) return "JsRpcStub";
    // Not a thenable: a promise resolving to a stub must give the stub (as workerd's getRpcMethod refuses "then").
    if (typeof prop !== "string" || prop === "then") return undefined;
    // workerd's stub is an object of class JsRpcStub: what its prototype chain has answers locally (`String(stub)`).
    if (prop === "constructor") return stubConstructor;
    if (prop in Object.prototype) return (Object.prototype as unknown as Record<string, unknown>)[prop];
    return rpcProperty(hold.invoke, [prop]);
  },
  apply(shell, _this, args) {
    return rpcPromise(shell[kHold].invoke([], args, "call"));
  },
};

/** A new stub to `exported` (it counts one more holder); `live` false makes one already disposed. */
export function createRpcStub(exported: RpcExport, live = true): object {
  const shell = (() => {}) as StubShell;
  shell[kHold] = new StubHold(exported, live);
  return new Proxy(shell, stubHandler);
}

function dupStub(hold: StubHold): object {
  // A copy of a disposed stub is as dead as it (workerd's dup of a disposed stub fails when used), and never held the
  // export: retaining and releasing it again would run the target's disposer a second time.
  return createRpcStub(hold.exported, !hold.disposed);
}

/** What an RPC stub refers to, and whether it was disposed (what passing it to another process needs). */
export function stubExport(stub: object): { exported: RpcExport; disposed: boolean } {
  const hold = (stub as { [kHold]: StubHold })[kHold];
  return { exported: hold.exported, disposed: hold.disposed };
}

/** Whether `value` is an RPC stub made here (not a Durable Object stub). */
export function isRpcStub(value: unknown): boolean {
  return typeof value === "function" && (value as { [kHold]?: unknown })[kHold] instanceof StubHold;
}

/** A stub's duplicate (one more holder of the same value). */
export function duplicateStub(stub: object): object {
  return dupStub((stub as { [kHold]: StubHold })[kHold]);
}

/** Disposes a stub (idempotent). */
export function disposeStub(stub: object): void {
  (stub as { [kHold]: StubHold })[kHold].dispose();
}

type PropertyShell = (() => void) & { invoke: Invoke; path: readonly string[] };

const propertyHandler: ProxyHandler<PropertyShell> = {
  get(shell, prop) {
    if (prop === "then" || prop === "catch" || prop === "finally") {
      const read = shell.invoke(shell.path, [], "get");
      return read[prop].bind(read);
    }
    if (typeof prop !== "string") return undefined;
    return rpcProperty(shell.invoke, [...shell.path, prop]);
  },
  apply(shell, _this, args) {
    return rpcPromise(shell.invoke(shell.path, args, "call"));
  },
};

/**
 * A member of a stub, or of a pending result (`stub.counter`): callable (a
 * call along the path), awaitable (a property read) and further indexable
 * (a longer path), as workerd's JsRpcProperty.
 */
export function rpcProperty(invoke: Invoke, path: readonly string[]): object {
  const shell = (() => {}) as PropertyShell;
  shell.invoke = invoke;
  shell.path = path;
  return new Proxy(shell, propertyHandler);
}

type PromiseShell = (() => void) & { result: Promise<unknown>; disposed: boolean };

const kShell = Symbol("torpor.rpcPromiseShell");

// Shared, reading the shell through `this` (the proxy): `await` looks `then` up on every call, and a bound copy per lookup is garbage.
const promiseMethods = {
  // biome-ignore lint/suspicious/noThenProperty: an RPC promise is a promise (workerd's JsRpcPromise is awaitable).
  then(this: { [kShell]: PromiseShell }, resolve?: (value: unknown) => unknown, reject?: (error: unknown) => unknown) {
    return this[kShell].result.then(resolve, reject);
  },
  catch(this: { [kShell]: PromiseShell }, reject?: (error: unknown) => unknown) {
    return this[kShell].result.catch(reject);
  },
  finally(this: { [kShell]: PromiseShell }, done?: () => void) {
    return this[kShell].result.finally(done);
  },
};

/** A pipelined call or read on a pending result: once it arrives, along the path from it. */
function pipelineOn(shell: PromiseShell): Invoke {
  return (path, args, op) =>
    shell.disposed ? Promise.reject(new Error("RPC promise used after being disposed.")) : shell.result.then((value) => pipeline(value, path, args, op));
}

const promiseHandler: ProxyHandler<PromiseShell> = {
  get(shell, prop) {
    if (prop === kShell) return shell;
    if (prop === "then" || prop === "catch" || prop === "finally") return promiseMethods[prop];
    if (prop === Symbol.dispose) {
      return () => {
        if (shell.disposed) return;
        shell.disposed = true;
        shell.result.then(disposeValue, () => {});
      };
    }
    if (typeof prop !== "string") return undefined;
    return rpcProperty(pipelineOn(shell), [prop]);
  },
  apply(shell, _this, args) {
    return rpcPromise(pipelineOn(shell)([], args, "call"));
  },
};

/**
 * What an RPC call returns: a promise of its result that can also be used
 * before it settles, as workerd's JsRpcPromise: `promise.method(…)` and
 * `await promise.prop` run on the result once it arrives.
 */
export function rpcPromise(result: Promise<unknown>): Promise<unknown> {
  const shell = (() => {}) as PromiseShell;
  shell.result = result;
  shell.disposed = false;
  return new Proxy(shell, promiseHandler) as unknown as Promise<unknown>;
}

/** Applies a pipelined call or read to a call's result. */
export function pipeline(value: unknown, path: readonly string[], args: unknown[], op: RpcOp): Promise<unknown> {
  const through = value === null || (typeof value !== "object" && typeof value !== "function") ? undefined : (value as { [kInvoke]?: Invoke })[kInvoke];
  if (typeof through === "function") return through(path, args, op);
  if (path.length === 0) return op === "get" ? Promise.resolve(value) : Promise.reject(new TypeError("Can't pipeline on RPC that did not return an object."));
  // workerd reports a member of a result that is not an object as a member the receiver lacks.
  if (typeof value !== "object" || value === null) return Promise.reject(notImplemented(path[0]!));
  // A plain result: its own properties are its members (workerd makes it a one-off loopback target).
  const name = path[0]!;
  if (!Object.hasOwn(value, name)) return Promise.reject(notImplemented(name));
  const member = (value as Record<string, unknown>)[name];
  if (path.length > 1) return pipeline(member, path.slice(1), args, op);
  if (op === "get") return Promise.resolve(isRpcStub(member) ? duplicateStub(member as object) : member);
  if (typeof member !== "function") return Promise.reject(new TypeError(`"${name}" is not a function.`));
  return Promise.resolve(member(...args));
}

/** workerd's TypeError for a member an RPC receiver does not offer. */
export function notImplemented(name: string): TypeError {
  return new TypeError(`The RPC receiver does not implement the method "${name}".`);
}

/** Disposes every RPC stub in a value (what `Symbol.dispose` of an RPC result does). */
export function disposeValue(value: unknown): void {
  disposeWithin(value, new Set());
}

function disposeWithin(value: unknown, seen: Set<object>): void {
  if (isRpcStub(value)) {
    disposeStub(value as object);
    return;
  }
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  const children = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...value.keys(), ...value.values()]
      : value instanceof Set
        ? [...value]
        : Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null
          ? Object.values(value)
          : [];
  for (const child of children) disposeWithin(child, seen);
}
