/**
 * Every error Torpor throws on purpose carries a stable `code` (listed in
 * docs/errors.md), so callers can branch on it without parsing messages.
 */
export type TorporErrorCode =
  | "ERR_INVALID_OPTIONS"
  | "ERR_INVALID_ID"
  | "ERR_ID_WRONG_NAMESPACE"
  | "ERR_UNKNOWN_BINDING"
  | "ERR_NO_SUCH_METHOD"
  | "ERR_RPC_CLONE"
  | "ERR_RPC_REFERENCE_LOST"
  | "ERR_RPC_REFERENCE_LIMIT"
  | "ERR_SERVICE_NOT_FOUND"
  | "ERR_NOT_SUPPORTED"
  | "ERR_CLOUDFLARE_MODULE_NOT_PROVIDED"
  | "ERR_TOO_MANY_TAGS"
  | "ERR_TAG_TOO_LONG"
  | "ERR_TOO_MANY_WEBSOCKETS"
  | "ERR_WEBSOCKET_ALREADY_ACCEPTED"
  | "ERR_WEBSOCKET_NOT_ACCEPTED"
  | "ERR_WEBSOCKET_NOT_HIBERNATABLE"
  | "ERR_WEBSOCKET_CLOSED"
  | "ERR_ATTACHMENT_TOO_LARGE"
  | "ERR_AUTO_RESPONSE_TOO_LONG"
  | "ERR_EVENT_TIMEOUT"
  | "ERR_STORAGE_COMMIT_FAILED"
  | "ERR_STORAGE_BATCH_LOST"
  | "ERR_STORAGE_OPEN"
  | "ERR_SQL_UNAVAILABLE"
  | "ERR_STORAGE_KEY_TOO_LARGE"
  | "ERR_STORAGE_VALUE_TOO_LARGE"
  | "ERR_STORAGE_TOO_MANY_KEYS"
  | "ERR_STORAGE_INVALID_ALARM"
  | "ERR_STORAGE_ASYNC_TRANSACTION_SYNC"
  | "ERR_STORAGE_CLOSED"
  | "ERR_SQL_TRANSACTION_STATEMENT"
  | "ERR_SQL"
  | "ERR_SQL_NOT_ONE_ROW"
  | "ERR_RUNTIME_CLOSED"
  | "ERR_NOT_HIBERNATABLE"
  | "ERR_UNKNOWN_OBJECT"
  | "ERR_SERVER_LISTENING"
  | "ERR_NOT_LISTENING"
  | "ERR_STORAGE_INVALID_LIST_OPTIONS"
  | "ERR_SQL_RESERVED_NAME"
  | "ERR_DATA_DIR_LOCKED"
  | "ERR_BACKUP_FAILED"
  | "ERR_ADMIN_TOKEN_REQUIRED"
  | "ERR_REQUEST_BODY_TOO_LARGE"
  | "ERR_WEBSOCKET_BACKPRESSURE"
  | "ERR_INVALID_ARGUMENT"
  | "ERR_WEBSOCKET_PAIR_IN_USE"
  | "ERR_EVENT_TIMEOUT_TOO_LONG"
  | "ERR_STORAGE_UNDEFINED_VALUE"
  | "ERR_STORAGE_TRANSACTION_ROLLED_BACK"
  | "ERR_STORAGE_DELETE_ALL_IN_TRANSACTION"
  | "ERR_SQL_NO_STATEMENT"
  | "ERR_SQL_BINDING_COUNT"
  | "ERR_UPGRADE_REQUIRED"
  | "ERR_CLUSTER_DATABASE"
  | "ERR_CLUSTER_POOLER"
  | "ERR_CLUSTER_FENCED"
  | "ERR_CLUSTER_LEASE_LOST"
  | "ERR_OBJECT_NOT_LOCAL"
  | "ERR_OBJECT_OWNER_EXITED"
  | "ERR_OBJECT_UNAVAILABLE"
  | "ERR_WORKER_START_TIMEOUT"
  | "ERR_MOVE_TIMEOUT"
  | "ERR_STOP_TIMEOUT"
  | "ERR_WORKER_UNRESPONSIVE"
  | "ERR_IPC_INVALID"
  | "ERR_OBJECT_RESET";

/** The base class of every error Torpor throws on purpose. */
export class TorporError extends Error {
  override name = "TorporError";
  /** A stable identifier, safe to branch on. */
  readonly code: TorporErrorCode;

  constructor(code: TorporErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The JavaScript error classes workerd throws from the APIs Torpor mirrors. */
type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

/** An error of a built-in class, carrying Torpor's stable `code` as a non-enumerable extra. */
export type CodedError = Error & { readonly code: TorporErrorCode };

/**
 * An error exactly as workerd throws it (same class, same message), for APIs
 * whose Cloudflare behaviour code and tests depend on. Torpor's stable `code`
 * rides along, non-enumerable, so `toEqual(new TypeError(msg))` still holds;
 * the advice on how to fix it is in docs/errors.md and in the logger's line.
 */
export function workerdError(Class: ErrorClass, code: TorporErrorCode, message: string, options?: ErrorOptions): CodedError {
  const error = new Class(message, options);
  Object.defineProperty(error, "code", { value: code, writable: true, configurable: true, enumerable: false });
  return error as CodedError;
}

/**
 * A `DOMException` as workerd throws it. Its `code` is the standard numeric
 * one (e.g. 25 for DataCloneError), so code branches on `name` instead.
 */
export function domException(name: "DataCloneError" | "InvalidAccessError" | "SyntaxError" | "InvalidStateError", message: string): DOMException {
  return new DOMException(message, name);
}

/**
 * The `DataCloneError` workerd throws for a value structured clone refuses
 * (a function, a symbol, a WeakMap…), given the error `node:v8` threw; V8
 * words the message the same way in both runtimes.
 */
export function cloneError(error: unknown): DOMException {
  return domException("DataCloneError", error instanceof Error ? error.message : String(error));
}

/**
 * workerd's (JSG's) error for an argument of the wrong type, e.g.
 * "Failed to execute 'getTags' on 'DurableObjectState': parameter 1 is not of type 'WebSocket'."
 */
export function argumentTypeError(method: string, iface: string, position: number, type: string): CodedError {
  const where = method === "constructor" ? `construct '${iface}': constructor parameter` : `execute '${method}' on '${iface}': parameter`;
  return workerdError(TypeError, "ERR_INVALID_ARGUMENT", `Failed to ${where} ${position} is not of type '${type}'.`);
}

/**
 * JSG's conversion of a JavaScript value to an unsigned 32-bit integer:
 * truncates fractions, converts strings and null, refuses negatives,
 * non-finite values and values over 2^32-1 with workerd's messages
 * (workerd src/workerd/jsg/value.h).
 */
export function toUint32(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw workerdError(TypeError, "ERR_INVALID_ARGUMENT", "The value cannot be converted because it is not an integer.");
  if (n < 0) {
    throw workerdError(TypeError, "ERR_INVALID_ARGUMENT", "The value cannot be converted because it is negative and this API expects a positive number.");
  }
  if (n > 0xffff_ffff) throw workerdError(TypeError, "ERR_INVALID_ARGUMENT", "Value out of range. Must be less than or equal to 4294967295.");
  return Math.trunc(n);
}

/** Formats a count with thousands separators, as the error messages do. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}
