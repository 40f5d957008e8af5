// An object whose code holds an open connection (here the client end of a WebSocket another
// object returned, accepted with ws.accept()) is not evicted while it stays open: workerd evicts
// an actor 10 s after its last request ended, unless something of its I/O is still running;
// `torpor dev` hibernates after the same 10 s (its default) unless something pins it. The same
// project (compat/keepalive) on workerd through miniflare and on `torpor dev`: a "plain" object
// (nothing open) must come back as a new instance after the idle time, a "held" one must not.
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { sideBySide } from "./side-by-side.ts";

const project = fileURLToPath(new URL("../keepalive/", import.meta.url));

const text = async (url: string) => (await fetch(url)).text();

/**
 * Opens the held object's socket, then idles both objects past the 10 s eviction delay and asks
 * each for its instance (held first). The idle time is what is measured, not a synchronization:
 * a round in which the plain object was not evicted yet (a loaded machine) starts over, at most 4.
 */
async function observe(base: string): Promise<{ plainEvicted: boolean; heldKept: boolean }> {
  const held = await text(`${base}/held/open`);
  let plain = await text(`${base}/plain/id`);
  for (let round = 0; round < 4; round++) {
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    const heldNow = await text(`${base}/held/id`);
    const plainNow = await text(`${base}/plain/id`);
    if (plainNow !== plain) return { plainEvicted: true, heldKept: heldNow === held };
    plain = plainNow;
  }
  return { plainEvicted: false, heldKept: (await text(`${base}/held/id`)) === held };
}

const both = sideBySide(project, {
  compatibilityDate: "2026-07-30",
  durableObjects: { A: { className: "A", useSQLite: true }, B: { className: "B", useSQLite: true } },
});

it("an object holding an open client end is not evicted while idle; one holding nothing is, as on workerd", async () => {
  const [w, t] = await Promise.all([observe(both.workerd.url), observe(both.torpor.url)]);
  expect(w).toEqual({ plainEvicted: true, heldKept: true });
  expect(t).toEqual(w);
}, 150_000);
