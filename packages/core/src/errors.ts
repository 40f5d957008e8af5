/**
 * Every error Torpor throws on purpose carries a stable `code` (listed in
 * docs/errors.md), so callers can branch on it without parsing messages.
 */
export type TorporErrorCode =
  | "ERR_INVALID_OPTIONS"
  | "ERR_INVALID_ID"
  | "ERR_ID_WRONG_NAMESPACE"
  | "ERR_INVALID_NAME"
  | "ERR_UNKNOWN_BINDING"
  | "ERR_NO_SUCH_METHOD"
  | "ERR_RPC_CLONE"
  | "ERR_TOO_MANY_TAGS"
  | "ERR_TAG_TOO_LONG"
  | "ERR_INVALID_TAG"
  | "ERR_TOO_MANY_WEBSOCKETS"
  | "ERR_WEBSOCKET_ALREADY_ACCEPTED"
  | "ERR_WEBSOCKET_NOT_ACCEPTED"
  | "ERR_WEBSOCKET_NOT_HIBERNATABLE"
  | "ERR_WEBSOCKET_CLOSED"
  | "ERR_INVALID_CLOSE_CODE"
  | "ERR_CLOSE_REASON_TOO_LONG"
  | "ERR_ATTACHMENT_TOO_LARGE"
  | "ERR_ATTACHMENT_NOT_CLONEABLE"
  | "ERR_AUTO_RESPONSE_TOO_LONG"
  | "ERR_INVALID_AUTO_RESPONSE"
  | "ERR_EVENT_TIMEOUT"
  | "ERR_STORAGE_COMMIT_FAILED"
  | "ERR_SQL_UNAVAILABLE"
  | "ERR_STORAGE_INVALID_KEY"
  | "ERR_STORAGE_KEY_TOO_LARGE"
  | "ERR_STORAGE_VALUE_TOO_LARGE"
  | "ERR_STORAGE_TOO_MANY_KEYS"
  | "ERR_STORAGE_NOT_CLONEABLE"
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
  | "ERR_STORAGE_INVALID_LIST_OPTIONS"
  | "ERR_SQL_RESERVED_NAME"
  | "ERR_SQL_INVALID_BINDING"
  | "ERR_DATA_DIR_LOCKED"
  | "ERR_ADMIN_TOKEN_REQUIRED"
  | "ERR_REQUEST_BODY_TOO_LARGE"
  | "ERR_WEBSOCKET_BACKPRESSURE";

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

/** Formats a count with thousands separators, as the error messages do. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}
