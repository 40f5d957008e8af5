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
