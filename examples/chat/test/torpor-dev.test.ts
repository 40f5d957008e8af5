/**
 * The chat app is a Cloudflare-shaped project (wrangler.jsonc, a Worker
 * entry, static assets in public/): `torpor dev -c examples/chat/wrangler.jsonc`
 * serves it as the CLI serves any Worker, with the same pages, files and
 * rooms as `pnpm dev`. A real CLI process on port 0 and a real WebSocket.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import WebSocket from "ws";
import { removeDir, tempDir } from "./helpers.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = fileURLToPath(new URL("../../../packages/cli/bin/torpor.js", import.meta.url));
const STARTUP_MS = 60_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `torpor dev -c examples/chat/wrangler.jsonc` on port 0 with a fresh data directory; resolves with its URL. */
async function torporDev(): Promise<string> {
  const dir = tempDir();
  cleanups.push(() => removeDir(dir));
  const child: ChildProcess = spawn(process.execPath, [bin, "dev", "-c", "examples/chat/wrangler.jsonc", "--port", "0", "--persist-to", dir], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`torpor dev printed no URL within ${STARTUP_MS} ms:\n${output}`)), STARTUP_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /^Ready on (\S+)$/m.exec(output)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve(url.replace(/\/$/, ""));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`torpor dev exited (${code}) before it was ready:\n${output}`));
    });
  });
}

it(
  "torpor dev -c examples/chat/wrangler.jsonc serves the pages from assets and the rooms from the Worker",
  async () => {
    const url = await torporDev();
    const landing = await fetch(`${url}/`);
    expect(landing.status).toBe(200);
    expect(landing.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await landing.text()).toContain("Torpor Chat");
    const room = await fetch(`${url}/r/lobby`);
    expect(room.status).toBe(200);
    expect(await room.text()).toContain("/assets/app.js");
    const script = await fetch(`${url}/assets/app.js`);
    expect(script.headers.get("content-type")).toContain("text/javascript");
    await script.arrayBuffer();
    expect((await fetch(`${url}/r/Lobby`, { redirect: "manual" })).status).toBe(308);

    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/r/lobby/ws?name=Ada`);
    cleanups.push(() => ws.close());
    const welcome = await new Promise<{ type: string; room: string }>((resolve, reject) => {
      ws.once("message", (data) => resolve(JSON.parse(String(data)) as { type: string; room: string }));
      ws.once("error", reject);
    });
    expect(welcome).toMatchObject({ type: "welcome", room: "lobby" });
  },
  2 * STARTUP_MS,
);
