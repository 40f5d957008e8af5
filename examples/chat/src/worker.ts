/**
 * The chat Worker entry: serves the pages and assets, and routes each room's
 * WebSocket to the room's Durable Object (one per room name).
 *
 *   GET /                    landing page (room picker)
 *   GET /r/<room>            the room page
 *   GET /r/<room>/ws?name=   WebSocket into the room
 *   GET /r/<room>/state      dev mode: the room object's lifecycle (from the admin endpoint)
 *   POST /r/<room>/hibernate dev mode: hibernate the room object now
 *   GET /assets/<file>       static files from ../public
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Env } from "./chat-room.ts";
import { roomNameSchema } from "./protocol.ts";

export { ChatRoom, type Env } from "./chat-room.ts";

/** What the Worker reads besides the room binding; set by `startChatServer` in dev mode only. */
export interface WorkerEnv extends Env {
  /** The runtime's admin endpoint (loopback). */
  ADMIN_URL?: string;
  HIBERNATE_AFTER_MS?: number;
}

/** The room object's lifecycle as the page shows it (`GET /r/<room>/state`). */
export interface RoomObjectState {
  room: string;
  /** "not running": no instance or record since the server started (nobody has joined). */
  state: "live" | "hibernated" | "not running";
  constructed: number;
  woken: number;
  sockets: number;
  hibernateAfterMs: number | null;
}

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
  async fetch(request: Request, env: WorkerEnv, _ctx?: unknown): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;

    const roomMatch = /^\/r\/([^/]+)(\/ws|\/state|\/hibernate)?\/?$/.exec(path);
    if (roomMatch) {
      const raw = decodeURIComponent(roomMatch[1]!);
      const room = roomNameSchema.safeParse(raw);
      if (!room.success) {
        const lower = roomNameSchema.safeParse(raw.toLowerCase());
        // `/r/Lobby` is the same room as `/r/lobby`; send people to the canonical address.
        if (lower.success && !roomMatch[2]) return redirect(url, `/r/${lower.data}`);
        return text(400, `Invalid room name ${JSON.stringify(raw)}: use 1–64 characters of a-z, 0-9, '-' and '_'.`);
      }
      if (roomMatch[2] === "/state" || roomMatch[2] === "/hibernate") return roomObject(request, env, room.data, roomMatch[2]);
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

/**
 * Dev mode: the room object's state, and forced hibernation, through the
 * runtime's admin endpoint. Reading the state never wakes the room (the admin
 * endpoint reports what the runtime knows), so the page can watch it sleep.
 */
async function roomObject(request: Request, env: WorkerEnv, room: string, what: "/state" | "/hibernate"): Promise<Response> {
  if (env.ADMIN_URL === undefined) return text(404, "The room object's state is shown in dev mode only (pnpm dev).");
  if (what === "/hibernate") {
    if (request.method !== "POST") return text(405, "Method not allowed.", { allow: "POST" });
    // A JSON content type cannot come from a plain cross-site form, so another site cannot press the button.
    if (!request.headers.get("content-type")?.startsWith("application/json")) return text(415, "Send Content-Type: application/json.");
    // The admin endpoint (loopback, no token) wants this header on state changes, for the same reason.
    const answer = await fetch(`${env.ADMIN_URL}/objects/CHAT_ROOM/${encodeURIComponent(room)}/hibernate`, {
      method: "POST",
      headers: { "x-torpor-admin": "1" },
    });
    return new Response(await answer.text(), { status: answer.status, headers: { "content-type": "application/json; charset=utf-8" } });
  }
  if (request.method !== "GET" && request.method !== "HEAD") return text(405, "Method not allowed.", { allow: "GET, HEAD" });
  const answer = await fetch(`${env.ADMIN_URL}/objects`);
  if (!answer.ok) return text(502, `The admin endpoint answered ${answer.status}.`);
  const objects = (await answer.json()) as Array<{ binding: string; name: string | null; state: string; sockets: number; constructed: number; woken: number }>;
  const found = objects.find((o) => o.binding === "CHAT_ROOM" && o.name === room);
  const body: RoomObjectState = {
    room,
    state: found?.state === "live" || found?.state === "hibernated" ? found.state : "not running",
    constructed: found?.constructed ?? 0,
    woken: found?.woken ?? 0,
    sockets: found?.sockets ?? 0,
    hibernateAfterMs: env.HIBERNATE_AFTER_MS ?? null,
  };
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } });
}

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
