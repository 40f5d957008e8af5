/**
 * The browser end-to-end test's server: the chat app in dev mode on a real
 * runtime on port 0 with SQLite in a temp dir, restartable on the same
 * directory. The unit tests (chat-room.test.ts) use @torpor/testing instead.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { recordingLogger, type Runtime } from "@torpor/core";
import { startChatServer } from "../src/server.ts";

export { recordingLogger };

export interface ChatServer {
  runtime: Runtime;
  url: string;
  port: number;
  dir: string;
  logger: ReturnType<typeof recordingLogger>;
  /** The DurableObjectId of a room, for hibernate()/inspect(). */
  roomId(room: string): ReturnType<ReturnType<Runtime["namespace"]>["idFromName"]>;
  /** Stops the runtime (graceful: sockets get 1012). Idempotent. */
  stop(): Promise<void>;
}

/** Creates a fresh temp data directory, removed by `removeDir`. */
export function tempDir(): string {
  return mkdtempSync(joinPath(tmpdir(), "torpor-chat-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts the chat app in dev mode (admin endpoint, room-object badge) on
 * 127.0.0.1, port 0 unless given, with its data in `dir`. Rooms hibernate
 * only when told to (a 5 s idle time could strike mid-test on a slow machine).
 */
export async function startChat(dir: string, port = 0): Promise<ChatServer> {
  const logger = recordingLogger();
  const server = await startChatServer({ dataDir: dir, port, dev: true, hibernateAfterMs: 600_000, logger, synchronous: "OFF" });
  const namespace = server.runtime.namespace("CHAT_ROOM");
  return {
    runtime: server.runtime,
    url: server.url,
    port: server.port,
    dir,
    logger,
    roomId: (room) => namespace.idFromName(room),
    stop: () => server.close(),
  };
}
