/**
 * How to fix the errors that keep workerd's exact messages (which carry no
 * advice, so code written for Cloudflare can compare them): the logger adds
 * this as a `hint` when such an error escapes a handler. The same text is in
 * docs/errors.md.
 */
const adviceByCode: Record<string, string> = {
  ERR_INVALID_ARGUMENT: "Pass the type the message names.",
  ERR_WEBSOCKET_ALREADY_ACCEPTED: "Accept a WebSocket once: either ws.accept() or ctx.acceptWebSocket(ws).",
  ERR_WEBSOCKET_PAIR_IN_USE: "Accept the server end (pair[1]) and return the client end in the 101 response.",
  ERR_TOO_MANY_TAGS: "Combine tags, or keep the extra data in the attachment.",
  ERR_TAG_TOO_LONG: "Use a shorter tag, such as an id instead of a name.",
  ERR_WEBSOCKET_NOT_HIBERNATABLE: "getTags() takes a WebSocket accepted with this object's ctx.acceptWebSocket().",
  ERR_WEBSOCKET_NOT_ACCEPTED: "Call ws.accept() or ctx.acceptWebSocket(ws) before send() or close().",
  ERR_WEBSOCKET_CLOSED: "The socket is closing or closed: check ws.readyState === 1 before a late send().",
  ERR_ATTACHMENT_TOO_LARGE: "Keep large state in storage and its key in the attachment, or raise --max-attachment-bytes (up to 16,384).",
  ERR_AUTO_RESPONSE_TOO_LONG: 'Use a short heartbeat such as "ping"/"pong".',
  ERR_UPGRADE_REQUIRED: 'Answer 101 only to a request with "Upgrade: websocket" (check request.headers.get("Upgrade") first).',
  ERR_STORAGE_UNDEFINED_VALUE: "Store null, or delete the key, instead of putting undefined.",
  ERR_STORAGE_TRANSACTION_ROLLED_BACK: "Use txn only inside its closure, and not after txn.rollback().",
  ERR_STORAGE_DELETE_ALL_IN_TRANSACTION: "Call ctx.storage.deleteAll() outside the transaction.",
  ERR_SQL_NO_STATEMENT: "Pass at least one SQL statement to sql.exec().",
  ERR_SQL_BINDING_COUNT: "Pass one binding per ? of the statement; only the last statement of a multi-statement exec may have parameters.",
  ERR_SQL_TRANSACTION_STATEMENT: "Use ctx.storage.transactionSync(() => { ... }) instead of BEGIN/COMMIT/SAVEPOINT.",
  ERR_SQL_NOT_ONE_ROW: "Use toArray() or next() when a query may return no row or several.",
  ERR_SQL_RESERVED_NAME: "Names starting with _cf_ are reserved, and ATTACH is refused; rename the table or column.",
  ERR_STORAGE_INVALID_LIST_OPTIONS: "Give start or startAfter, not both, and a positive limit.",
  ERR_EVENT_TIMEOUT_TOO_LONG: "The event timeout is at most 604,800,000 ms (7 days); 0 removes it.",
};

const adviceByName: Record<string, string> = {
  DataCloneError: "Store plain data: no functions, symbols, WeakMaps or class instances with behaviour.",
  InvalidAccessError: "Close with 1000, 1001-1003, 1007-1014 or 3000-4999, and give a code with a reason.",
  SyntaxError: "A close reason is at most 123 bytes (UTF-8).",
};

/** The fix for an error Torpor knows, or undefined. */
export function adviceFor(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (typeof code === "string" && code in adviceByCode) return adviceByCode[code];
  if (typeof DOMException === "function" && error instanceof DOMException && typeof name === "string") return adviceByName[name];
  return undefined;
}
