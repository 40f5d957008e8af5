import { TorporError } from "../errors.ts";
import { isRpcStub } from "./rpc-reference.ts";
import { RpcTarget } from "./rpc-target.ts";
import { isStub } from "./stub.ts";

/**
 * Copies an RPC value (arguments, a result, a property) that crosses to a
 * process taking copies only (another node, or a host directory without
 * `references`): a structured clone. What is passed by reference (see
 * rpc-marshal.ts, rpc-transfer.ts) fails there with ERR_RPC_CLONE naming
 * it, rather than arriving as a copy or leaving its caller waiting.
 */
export function clone<T>(value: T, what: string): T {
  const byReference = findByReference(value, new Set());
  if (byReference !== undefined) {
    throw new TorporError(
      "ERR_RPC_CLONE",
      `${capitalize(what)} holds ${byReference}: those are passed by reference, which Torpor supports within one machine (one process, or the worker processes of its cluster), and this call crosses to a process that takes copies only (another node of a several-machine cluster). Pass plain data there.`,
    );
  }
  try {
    return structuredClone(value);
  } catch (cause) {
    throw cloneFailed(what, cause);
  }
}

/** The error for an RPC value that the structured clone algorithm refused (`cause`: what it threw). */
export function cloneFailed(what: string, cause: unknown): TorporError {
  return new TorporError(
    "ERR_RPC_CLONE",
    `RPC values are structured-cloned, and ${what} cannot be: ${(cause as Error).message}. Pass plain data (no functions, class instances with behaviour, or sockets).`,
    { cause },
  );
}

/**
 * What RPC passes by reference (an RpcTarget, a function, a stub),
 * described, or undefined. Structured clone would copy an RpcTarget silently
 * without its methods, and fail on the others with a message naming none.
 */
export function findByReference(value: unknown, seen: Set<object>): string | undefined {
  if (isRpcStub(value)) return "an RPC stub";
  if (typeof value === "function") return `a function${value.name === "" ? "" : ` (${value.name})`}`;
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  if (value instanceof RpcTarget) return `an RpcTarget (${value.constructor.name})`;
  if (isStub(value)) return "a Durable Object stub";
  seen.add(value);
  const children = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...value.keys(), ...value.values()]
      : value instanceof Set
        ? [...value]
        : Object.getPrototypeOf(value) === Object.prototype
          ? Object.values(value)
          : [];
  for (const child of children) {
    const found = findByReference(child, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
