/**
 * Runs the chat app: `pnpm start` from the repo root, then open the URL it prints.
 *
 * Environment: PORT (default 8787), HOST (default 127.0.0.1), TORPOR_DATA
 * (default `.torpor/chat` under the repo root).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Runtime } from "@torpor/core";
import { sqliteStorage } from "@torpor/storage-sqlite";
import worker, { ChatRoom } from "./worker.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const dataDir = resolve(repoRoot, process.env.TORPOR_DATA ?? ".torpor/chat");
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";

const runtime = new Runtime({
  objects: { CHAT_ROOM: ChatRoom },
  fetch: worker.fetch,
  storage: sqliteStorage({ dir: dataDir }),
});
// Handlers first: whoever reads the line below may press Ctrl-C at once.
let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  process.stdout.write(`${signal}: closing (sockets get 1012, storage is flushed)…\n`);
  try {
    await runtime.close();
    process.exit(0);
  } catch (error) {
    process.stderr.write(`Shutdown failed: ${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  }
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

const { url } = await runtime.listen({ port, host });
process.stdout.write(`Torpor chat on ${url} (data in ${dataDir})\n`);

