/**
 * A Worker with two Durable Objects, written against Cloudflare's API only:
 * /counter/<name> goes to a Counter, /room/<name>/join to a chat Room,
 * /visit/<name> answers at once and counts the visit in the background
 * (`ctx.waitUntil`).
 */
import type { Env } from "./env.ts";

export { Counter } from "./counter.ts";
export { Room } from "./room.ts";
export type { Env } from "./env.ts";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    const [, kind = "", name = ""] = url.pathname.split("/");
    if (kind === "counter" && name !== "") return env.COUNTER.getByName(name).fetch(request);
    if (kind === "room" && name !== "") return env.ROOM.getByName(name).fetch(request);
    if (kind === "visit" && name !== "") {
      // The response does not wait for the count: waitOnExecutionContext does.
      ctx.waitUntil(scheduler.wait(20).then(() => env.COUNTER.getByName(name).increment()));
      return new Response(`${env.GREETING}, ${name}`);
    }
    return new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
