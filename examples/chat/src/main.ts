/**
 * Runs the chat app: `pnpm start` (or `pnpm dev`) from the repo root, then
 * open the URL it prints.
 *
 * `--dev` (`pnpm dev`): rooms hibernate after 5 s idle, the admin endpoint
 * listens on loopback, and each room page shows its object's state with a
 * "hibernate now" button.
 *
 * Environment: PORT (default 8787), HOST (default 127.0.0.1), TORPOR_DATA
 * (default `.torpor/chat` under the repo root).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startChatServer, type ChatServer } from "./server.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const dataDir = resolve(repoRoot, process.env.TORPOR_DATA ?? ".torpor/chat");
const dev = process.argv.slice(2).includes("--dev");

// Handlers first: whoever reads the URL line may press Ctrl-C at once, or
// before the server is up.
let server: ChatServer | null = null;
let stopping: string | null = null;
async function shutdown(signal: string): Promise<void> {
  if (stopping !== null) return;
  stopping = signal;
  if (server === null) return; // Still starting: stopped right after it is up.
  process.stdout.write(`${signal}: closing (sockets get 1012, storage is flushed)…\n`);
  try {
    await server.close();
    process.exit(0);
  } catch (error) {
    process.stderr.write(`Shutdown failed: ${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  }
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

server = await startChatServer({ dataDir, port: Number(process.env.PORT ?? 8787), host: process.env.HOST ?? "127.0.0.1", dev });
process.stdout.write(`Torpor chat on ${server.url} (data in ${dataDir})\n`);
if (server.adminUrl !== null) {
  const idle = server.runtime.options.hibernateAfterMs / 1000;
  process.stdout.write(`Dev mode: rooms hibernate after ${idle} s idle; admin endpoint on ${server.adminUrl}\n`);
}
if (stopping !== null) {
  const signal = stopping;
  stopping = null;
  await shutdown(signal);
}
