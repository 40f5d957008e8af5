/**
 * One server per data directory, checked with real processes: a second
 * `torpor start` on the same --persist-to refuses to start and names the
 * first one's pid; after the holder is SIGKILLed the next one takes over.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { runTorpor, startTorpor, type Server } from "./helpers.ts";

const dirs: string[] = [];
const servers: Server[] = [];

afterEach(() => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-lock-"));
  dirs.push(dir);
  writeFileSync(join(dir, "entry.js"), `export default { fetch: () => new Response("ok") };\n`);
  return dir;
}

it("a second process on the same --persist-to refuses to start, naming the holder's pid; a SIGKILLed holder's lock is taken over", {
  // Three starts, and the third waits for the workers the SIGKILLed supervisor left (cluster mode on a multi-core machine).
  timeout: 120_000,
}, async () => {
  const dir = project();
  const data = join(dir, "data");
  const first = await startTorpor(["start", "entry.js", "--port", "0", "--persist-to", data], dir, 40_000);
  servers.push(first);

  const second = await runTorpor(["start", "entry.js", "--port", "0", "--persist-to", data], dir);
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`torpor: The data directory is locked by pid ${first.child.pid} (another torpor start?).`);
  expect(second.stdout).not.toContain("Listening");
  // The refused process did not disturb the holder.
  expect(await (await fetch(first.url)).text()).toBe("ok");

  const killed = new Promise((resolve) => first.child.once("exit", resolve));
  first.child.kill("SIGKILL");
  await killed;
  const third = await startTorpor(["start", "entry.js", "--port", "0", "--persist-to", data], dir, 40_000);
  servers.push(third);
  expect(readFileSync(join(data, "torpor.pid"), "utf8").trim()).toBe(String(third.child.pid));
  expect(await third.stop()).toBe(0);
});
