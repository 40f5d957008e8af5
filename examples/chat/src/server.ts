/**
 * Starts the chat app on a real runtime: `main.ts` for `pnpm start` /
 * `pnpm dev`, and the browser test. Dev mode adds what makes hibernation
 * visible: the CLI's admin endpoint on loopback (the Worker reads the room's
 * state from it and forwards "hibernate now" to it) and a short idle time.
 */
import { startAdmin, type AdminServer } from "@torpor/cli";
import { Runtime, type Logger } from "@torpor/core";
import { sqliteStorage } from "@torpor/storage-sqlite";
import { loadChatApp } from "./chat-app.ts";
import { ChatRoom } from "./worker.ts";

/** Idle time before a room hibernates in dev mode (production keeps the runtime's 10 s). */
export const DEV_HIBERNATE_AFTER_MS = 5_000;

export interface ChatServerOptions {
  /** Directory of the rooms' SQLite files. */
  dataDir: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Admin endpoint on 127.0.0.1, the page's room-object badge and "hibernate now" button, short idle time. */
  dev?: boolean;
  /** Overrides the idle time (default: 5 s in dev mode, the runtime's default otherwise). */
  hibernateAfterMs?: number;
  logger?: Logger;
  /** SQLite durability; tests turn it off. */
  synchronous?: "OFF" | "NORMAL" | "FULL";
}

export interface ChatServer {
  runtime: Runtime;
  /** `http://host:port`, without a trailing slash. */
  url: string;
  port: number;
  /** The admin endpoint in dev mode, else null. */
  adminUrl: string | null;
  /** Graceful stop: sockets get 1012, storage is flushed. Idempotent. */
  close(): Promise<void>;
}

export async function startChatServer(options: ChatServerOptions): Promise<ChatServer> {
  const dev = options.dev ?? false;
  const hibernateAfterMs = options.hibernateAfterMs ?? (dev ? DEV_HIBERNATE_AFTER_MS : undefined);
  // wrangler.jsonc: the page and its files are static assets, served before the Worker.
  const app = await loadChatApp({ dataDir: options.dataDir, ...(options.logger === undefined ? {} : { logger: options.logger }) });
  const runtime = new Runtime({
    objects: { CHAT_ROOM: ChatRoom },
    fetch: app.fetch,
    env: app.env,
    storage: sqliteStorage({ dir: options.dataDir, ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }) }),
    ...(hibernateAfterMs === undefined ? {} : { hibernateAfterMs }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  let admin: AdminServer | null = null;
  try {
    if (dev) {
      // Loopback only, so no token: it lists every object and can force hibernation.
      admin = await startAdmin(runtime, { port: 0, host: "127.0.0.1", logger: runtime.options.logger, token: null });
      // Set after the runtime exists (the admin endpoint needs it) and before
      // the first request; the Worker's env object is the runtime's.
      runtime.env.ADMIN_URL = admin.url;
      runtime.env.HIBERNATE_AFTER_MS = runtime.options.hibernateAfterMs;
    }
    const { url, port } = await runtime.listen({ port: options.port ?? 8787, host: options.host ?? "127.0.0.1" });
    let closing: Promise<void> | null = null;
    return {
      runtime,
      url: url.replace(/\/$/, ""),
      port,
      adminUrl: admin?.url ?? null,
      close: () =>
        (closing ??= (async () => {
          await admin?.close();
          await runtime.close();
          await app.close();
        })()),
    };
  } catch (error) {
    await admin?.close();
    await runtime.close();
    await app.close();
    throw error;
  }
}
