/**
 * The chat Worker entry: serves the pages and assets, and routes each room's
 * WebSocket to the room's Durable Object (one per room name).
 *
 *   GET /                    landing page (room picker)
 *   GET /r/<room>            the room page
 *   GET /r/<room>/ws?name=   WebSocket into the room
 *   GET /assets/<file>       static files from ../public
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Env } from "./chat-room.ts";
import { roomNameSchema } from "./protocol.ts";

export { ChatRoom, type Env } from "./chat-room.ts";

/** Where the browser files live; read on each request so edits show on reload. */
const publicDir = new URL("../public/", import.meta.url);

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

const worker = {
  async fetch(request: Request, env: Env, _ctx?: unknown): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;

    const roomMatch = /^\/r\/([^/]+)(\/ws)?\/?$/.exec(path);
    if (roomMatch) {
      const raw = decodeURIComponent(roomMatch[1]!);
      const room = roomNameSchema.safeParse(raw);
      if (!room.success) {
        const lower = roomNameSchema.safeParse(raw.toLowerCase());
        // `/r/Lobby` is the same room as `/r/lobby`; send people to the canonical address.
        if (lower.success && !roomMatch[2]) return redirect(url, `/r/${lower.data}`);
        return text(400, `Invalid room name ${JSON.stringify(raw)}: use 1–64 characters of a-z, 0-9, '-' and '_'.`);
      }
      if (roomMatch[2]) {
        if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
          return text(426, "Expected a WebSocket upgrade.");
        }
        const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(room.data));
        return stub.fetch(request) as Promise<Response>;
      }
      if (path.endsWith("/")) return redirect(url, `/r/${room.data}`);
      return serveFile(request, "room.html");
    }

    if (path === "/" || path === "/index.html") return serveFile(request, "index.html");
    if (path === "/favicon.ico") return serveFile(request, "favicon.svg");
    if (path.startsWith("/assets/")) {
      const name = path.slice("/assets/".length);
      // Flat directory, fixed character set: no way to climb out of public/.
      if (/^[a-z0-9][a-z0-9._-]*$/i.test(name) && !name.includes("..")) return serveFile(request, name);
    }
    return text(404, "Not found.");
  },
};

export default worker;

async function serveFile(request: Request, name: string): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text(405, "Method not allowed.", { allow: "GET, HEAD" });
  }
  let body: Buffer;
  try {
    body = await readFile(fileURLToPath(new URL(name, publicDir)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return text(404, "Not found.");
    throw error;
  }
  return new Response(request.method === "HEAD" ? null : new Uint8Array(body), {
    headers: {
      "content-type": contentTypes[extname(name)] ?? "application/octet-stream",
      "content-length": String(body.byteLength),
      // No build step means no hashed names; make browsers revalidate.
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    },
  });
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

function redirect(from: URL, pathname: string): Response {
  const to = new URL(pathname, from);
  to.search = from.search;
  return new Response(null, { status: 308, headers: { location: to.toString() } });
}
