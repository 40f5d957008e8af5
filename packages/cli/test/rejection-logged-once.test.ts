/** A served Worker's unhandled rejection is reported once (the CLI used to add a second handler). */
import { join } from "node:path";
import { expect, it, vi } from "vitest";
import { project, startTorpor } from "./helpers.ts";

const WORKER_JS = `
let n = 0;
export default {
  async fetch() {
    // Nobody awaits it: an unhandled rejection.
    Promise.reject(new Error("careless-rejection-" + ++n));
    return new Response("ok");
  },
};
`;

it("an unhandled rejection in Worker code is logged exactly once and the server keeps serving", async () => {
  const dir = project({ "wrangler.json": JSON.stringify({ main: "worker.js", compatibility_date: "2025-06-01" }), "worker.js": WORKER_JS });
  // One process: the Worker's counter `n` is per process, and this checks the single-process handler.
  const server = await startTorpor(["start", "--workers", "1", "--port", "0", "--persist-to", join(dir, "data")], dir);
  try {
    const count = (n: number) => (server.stdout() + server.stderr()).split("\n").filter((line) => line.includes(`careless-rejection-${n}`)).length;
    expect(await (await fetch(server.url)).text()).toBe("ok");
    expect(await (await fetch(server.url)).text()).toBe("ok");
    // Both handlers would write on the same stdout, in order: once the second rejection is
    // logged, any duplicate of the first is already there.
    await vi.waitFor(() => expect(count(2)).toBeGreaterThan(0));
    expect(count(1)).toBe(1);
    expect(count(2)).toBe(1);
  } finally {
    await server.stop();
  }
});
