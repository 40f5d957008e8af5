/**
 * One throwaway PostgreSQL server per test file and a fresh schema per test,
 * so tests of one file share the server's start-up cost but no state.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, it, onTestFinished } from "vitest";
import { openClusterDb, type ClusterDb, type ClusterDbOptions } from "../src/index.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import { pgUnavailableReason, startPgServer, type PgServer, type PgServerOptions } from "./pg-server.ts";

/** Why this machine cannot run the PostgreSQL tests (then they are skipped with this reason), or null. */
export const pgMissing = pgUnavailableReason();

/** A test that needs PostgreSQL: `it` when it can run here, `it.skip` otherwise. */
export function pgIt(name: string, fn: () => Promise<void>, timeout?: number): void {
  (pgMissing === null ? it : it.skip)(name, fn, timeout);
}

/** A test skipped for a reason of its own. */
pgIt.skip = (name: string, fn: () => Promise<void>, timeout?: number): void => {
  it.skip(name, fn, timeout);
};

/** Starts a server before the file's tests and removes it after; `get()` returns it. */
export function usePgServer(options?: PgServerOptions): { get(): PgServer } {
  let server: PgServer | null = null;
  beforeAll(() => {
    if (pgMissing !== null) return;
    server = startPgServer(options);
  }, 60_000);
  afterAll(() => {
    server?.destroy();
    server = null;
  });
  return {
    get() {
      if (server === null) throw new Error(`no PostgreSQL server: ${pgMissing}`);
      return server;
    },
  };
}

/** A random schema name, so each test has its own tables. */
export function freshSchema(): string {
  return `t_${randomBytes(6).toString("hex")}`;
}

/** Opens a cluster database on a fresh schema; closed by the caller (or `using` it in a try/finally). */
export function openFresh(url: string, options: Partial<ClusterDbOptions> = {}): Promise<ClusterDb> {
  return openClusterDb({ url, schema: freshSchema(), queryTimeoutMs: 5_000, ...options });
}

/** A fault proxy in front of `server` (started with a `tcpAddress`), closed when the test ends, and the server's TCP URL through it. */
export async function viaProxy(server: PgServer): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = await startFaultProxy({ host: "127.0.0.1", port: server.port });
  onTestFinished(() => proxy.close());
  const url = new URL(server.tcpUrl!);
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}
