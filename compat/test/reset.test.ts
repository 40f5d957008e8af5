// When an object is reset (broken), the WebSockets its code accepted that no object owns are torn
// down with it: the peer sees the connection end without a Close frame. The same project
// (compat/reset) on workerd through miniflare and on `torpor dev`: object A accepts the client end
// of a WebSocket B returned, then calls ctx.abort(); B's webSocketClose must see the same code,
// reason and wasClean on both.
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { sideBySide } from "./side-by-side.ts";

const project = fileURLToPath(new URL("../reset/", import.meta.url));

/** Opens A's socket to B, resets A, and polls (deadline 60 s) until B has seen the close. */
async function observe(base: string): Promise<{ open: string; abort: number; seen: string[] }> {
  const open = await (await fetch(`${base}/open`)).text();
  const abort = (await fetch(`${base}/abort`)).status;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const seen = (await (await fetch(`${base}/seen`)).json()) as string[];
    if (seen.some((event) => event.startsWith("close"))) return { open, abort, seen };
    if (Date.now() > deadline) return { open, abort, seen };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const both = sideBySide(project, {
  compatibilityDate: "2026-07-30",
  durableObjects: { A: { className: "A", useSQLite: true }, B: { className: "B", useSQLite: true } },
});

it("a reset object's client end is dropped: the peer sees 1006 without a Close frame, as on workerd", async () => {
  const [w, t] = await Promise.all([observe(both.workerd.url), observe(both.torpor.url)]);
  expect(w).toEqual({ open: "open", abort: 500, seen: ["message hello", "close 1006 WebSocket disconnected without sending Close frame. false"] });
  expect(t).toEqual(w);
}, 150_000);
