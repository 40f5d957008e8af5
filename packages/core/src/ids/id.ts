import { createHash, randomBytes } from "node:crypto";
import { workerdError } from "../errors.ts";

const HEX_ANY_CASE = /^[0-9a-fA-F]{64}$/;

/**
 * Identifies one Durable Object within a namespace: 64 lowercase hex
 * characters, like Cloudflare's. Ids from `idFromName` are deterministic.
 */
export class DurableObjectId {
  /** The name this id was derived from (`idFromName`), else undefined. */
  readonly name: string | undefined;
  readonly #hex: string;
  /** @internal the namespace that made this id */
  readonly namespaceKey: string;

  /** @internal use a namespace's `idFromName`, `newUniqueId` or `idFromString`. */
  constructor(hex: string, namespaceKey: string, name?: string) {
    this.#hex = hex;
    this.namespaceKey = namespaceKey;
    this.name = name;
  }

  /** The 64-hex-character form, accepted by `idFromString`. */
  toString(): string {
    return this.#hex;
  }

  /** True when both ids name the same object. */
  equals(other: DurableObjectId): boolean {
    return other instanceof DurableObjectId && other.#hex === this.#hex && other.namespaceKey === this.namespaceKey;
  }

  toJSON(): string {
    return this.#hex;
  }
}

/**
 * Derives a name's id. The namespace key is mixed in so the same name in two
 * namespaces gives two ids, as on Cloudflare.
 */
export function hexFromName(namespaceKey: string, name: string): string {
  return createHash("sha256").update(namespaceKey).update("\0").update(name).digest("hex");
}

/** A random id (256 bits). */
export function uniqueHex(): string {
  return randomBytes(32).toString("hex");
}

/**
 * Converts and validates `idFromString`'s argument as workerd does: the value
 * is converted to a string, must be 64 hex digits (either case; the id's
 * string form is lowercase), and anything else throws workerd's TypeError.
 * (workerd's ids also carry a MAC of their namespace, so it also refuses a
 * well-formed id of another namespace; Torpor's ids have none: see
 * docs/compatibility.md.)
 */
export function parseHex(value: unknown): string {
  const text = String(value);
  if (!HEX_ANY_CASE.test(text)) throw workerdError(TypeError, "ERR_INVALID_ID", "Invalid Durable Object ID: must be 64 hex digits");
  return text.toLowerCase();
}
