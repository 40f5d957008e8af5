/**
 * The checks the cluster's message validation is built of (routed-message-checks.ts for the hot messages,
 * ipc-validation.ts for the rest): each shape of a field written once, by hand. No schema library: the
 * supervisor checks every message a worker sends, and loading zod for that was most of what it held
 * (issue 23 item 4, bench/RESULTS.md).
 */

/** Whether a value has the shape a field needs. */
export type Check = (v: unknown) => boolean;

/** A message's fields and their checks (fields not named are let through, as they are for the receiver to ignore). */
export type Shape = Readonly<Record<string, Check>>;

const HEX64 = /^[0-9a-f]{64}$/;

/** A positive safe integer: request and stream ids, process serials, credit. */
export const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
/** A safe integer of 0 or more: sequence numbers and counts. */
export const isCount = (v: unknown): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
/** A safe integer (a status). */
export const isInteger = (v: unknown): boolean => typeof v === "number" && Number.isSafeInteger(v);
/** A finite number. */
export const isNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);
export const isString = (v: unknown): v is string => typeof v === "string";
export const isBoolean = (v: unknown): boolean => typeof v === "boolean";
export const isBytes = (v: unknown): boolean => v instanceof Uint8Array;
export const isAnything = (): boolean => true;
/** An object that is not an array (what a structured clone of one is). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** A plain object: a record's keys are its own. */
export const isRecord = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
export const optionalString = (v: unknown): boolean => v === undefined || typeof v === "string";

/** The check, or undefined. */
export const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
/** An array whose every item passes `check` (at least `min` of them). */
export const arrayOf =
  (check: Check, min = 0): Check =>
  (v) =>
    Array.isArray(v) && v.length >= min && v.every(check);
/** One of these values. */
export const oneOf =
  (...values: readonly unknown[]): Check =>
  (v) =>
    values.includes(v);
/** An object with these fields. */
export const shaped =
  (shape: Shape): Check =>
  (v) =>
    isObject(v) && shapeReason(v, shape) === null;

/** An object's key: a non-empty namespace, a 64-hex id, a name when it has one. */
export function isObjectKey(v: unknown): boolean {
  return isObject(v) && typeof v.namespace === "string" && v.namespace !== "" && typeof v.id === "string" && HEX64.test(v.id) && optionalString(v.name);
}

/** An error as wire.ts sends it: name and message, and code and stack when present, all strings. */
export function isWireError(v: unknown): boolean {
  return isObject(v) && typeof v.name === "string" && typeof v.message === "string" && optionalString(v.code) && optionalString(v.stack);
}

/** A reference's entry in a message (WireRef): a table entry, a disposed one, or a durable object's stub. */
function isWireRef(v: unknown): boolean {
  if (!isObject(v)) return false;
  return isId(v.id) || v.disposed === true || isObjectKey(v.durable);
}

/** The `refs` list of a message: placeholders (objects of the message) and what each stands for. */
export const isWireRefs = (v: unknown): boolean => Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && isObject(e[0]) && isWireRef(e[1]));

/** The first field of `message` that fails its check in `shape`, as a reason; null when none does. */
export function shapeReason(message: Record<string, unknown>, shape: Shape): string | null {
  for (const field in shape) if (!shape[field]!(message[field])) return `${field}: ${message[field] === undefined ? "missing" : "invalid"}`;
  return null;
}
