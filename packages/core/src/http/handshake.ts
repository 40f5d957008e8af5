import type { IncomingMessage } from "node:http";

/** Why a WebSocket handshake request is refused, as an HTTP status and message. */
export interface HandshakeProblem {
  status: 400 | 405;
  message: string;
  headers?: Record<string, string>;
}

const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** RFC 7230 token characters: what a subprotocol name may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Checks an upgrade request the way `ws` will when it completes the
 * handshake (method, Sec-WebSocket-Key, Sec-WebSocket-Version,
 * Sec-WebSocket-Protocol), so a request that would be refused is refused
 * before the Worker and the object run: otherwise the object accepts a
 * socket (and may write to storage for it) that never connects.
 */
export function checkHandshake(req: IncomingMessage): HandshakeProblem | null {
  if (req.method !== "GET") return { status: 405, message: `A WebSocket upgrade must be a GET request; got ${req.method}.`, headers: { allow: "GET" } };
  const key = req.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) {
    return { status: 400, message: "Missing or invalid Sec-WebSocket-Key header: it must be 16 random bytes in base64 (RFC 6455 section 4.1)." };
  }
  const version = req.headers["sec-websocket-version"];
  if (version !== "13" && version !== "8") {
    return {
      status: 400,
      message: `Unsupported Sec-WebSocket-Version ${JSON.stringify(version ?? null)}: this server speaks version 13.`,
      headers: { "sec-websocket-version": "13, 8" },
    };
  }
  const protocols = req.headers["sec-websocket-protocol"];
  if (protocols !== undefined) {
    const names = protocols.split(",").map((p) => p.trim());
    if (names.some((p) => !TOKEN.test(p)) || new Set(names).size !== names.length) {
      return { status: 400, message: "Invalid Sec-WebSocket-Protocol header: it must list distinct tokens separated by commas." };
    }
  }
  return null;
}
