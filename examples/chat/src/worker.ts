/**
 * The chat Worker entry: routes each room's WebSocket to the room's Durable
 * Object (one per room name) and answers the room routes. Everything else is
 * a static asset from ../public, served before the Worker runs (`assets` in
 * ../wrangler.jsonc), as on Cloudflare.
 *
 *   GET /                    landing page (public/index.html, an asset)
 *   GET /assets/<file>       scripts and styles (assets)
 *   GET /r/<room>            the room page (public/room.html through env.ASSETS)
 *   GET /r/<room>/ws?name=   WebSocket into the room
 *   GET /r/<room>/state      dev mode: the room object's lifecycle (from the admin endpoint)
 *   POST /r/<room>/hibernate dev mode: hibernate the room object now
 */
import type { Env } from "./chat-room.ts";
import { roomNameSchema } from "./protocol.ts";

export { ChatRoom, type Env } from "./chat-room.ts";

/** What the Worker reads besides the room binding. */
export interface WorkerEnv extends Env {
  /** The static assets (`assets.binding`): answers from public/ only. */
  ASSETS: { fetch(request: Request): Promise<Response> };
  // Set by `startChatServer` in dev mode only:
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
      // One page for every room (it reads the room from the address): the asset at /room,
      // with the request's method and headers (HEAD, If-None-Match → 304).
      return env.ASSETS.fetch(new Request(new URL("/room", url), { method: request.method, headers: request.headers }));
    }
    // Paths no asset answers, and /room itself (run_worker_first): not a page without a room.
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

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

function redirect(from: URL, pathname: string): Response {
  const to = new URL(pathname, from);
  to.search = from.search;
  return new Response(null, { status: 308, headers: { location: to.toString() } });
}
