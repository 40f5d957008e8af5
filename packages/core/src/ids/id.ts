import { createHash, randomBytes } from "node:crypto";
import { TorporError } from "../errors.ts";

const HEX_ID = /^[0-9a-f]{64}$/;

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

/** Validates an id string for `idFromString`. */
export function parseHex(value: unknown): string {
  if (typeof value !== "string" || !HEX_ID.test(value)) {
    const shown = typeof value === "string" ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : typeof value;
    throw new TorporError(
      "ERR_INVALID_ID",
      `Invalid Durable Object id ${shown}: an id is 64 lowercase hex characters, as returned by id.toString(). To address an object by a name, use idFromName(name) or getByName(name).`,
    );
  }
  return value;
}
