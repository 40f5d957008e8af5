/**
 * PgBouncer in front of a throwaway server, for the test that Torpor refuses a
 * transaction-mode pooler (and accepts a session-mode one). Runs as the same
 * unprivileged user as the server (PgBouncer refuses root), on a Unix socket
 * in its own directory. `.ci/run` installs Debian's `pgbouncer` when missing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PgServer } from "./pg-server.ts";

const BIN = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find((p) => existsSync(p)) ?? null;

/** Why PgBouncer tests cannot run here, or null. */
export function pgBouncerMissing(): string | null {
  return BIN === null ? "no pgbouncer binary (apt-get install pgbouncer)" : null;
}

/** A running PgBouncer. */
export interface PgBouncer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts PgBouncer in `mode` in front of `server`. */
export async function startPgBouncer(server: PgServer, mode: "transaction" | "session"): Promise<PgBouncer> {
  if (BIN === null) throw new Error(pgBouncerMissing()!);
  const dir = mkdtempSync(join(tmpdir(), "torpor-pgb-"));
  // Same owner as the server's directory: that user can reach the server's socket.
  const owner = statSync(server.socketDir);
  chownSync(dir, owner.uid, owner.gid);
  const port = 6432;
  writeFileSync(join(dir, "users.txt"), '"torpor" ""\n');
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `postgres = host=${server.socketDir} port=${server.port} dbname=postgres user=torpor`,
      "[pgbouncer]",
      "listen_addr =",
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      `pool_mode = ${mode}`,
      "default_pool_size = 4",
      "max_client_conn = 50",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      "",
    ].join("\n"),
  );
  const asUser = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
  for (const f of ["users.txt", "pgbouncer.ini"]) chownSync(join(dir, f), owner.uid, owner.gid);
  const child: ChildProcess = spawn(BIN, [join(dir, "pgbouncer.ini")], { ...asUser, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d));
  child.stderr?.on("data", (d: Buffer) => (output += d));
  const socket = join(dir, `.s.PGSQL.${port}`);
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = existsSync(join(dir, "pgbouncer.log")) ? readFileSync(join(dir, "pgbouncer.log"), "utf8") : "";
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start: ${output}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `postgres://torpor@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Runs one SQL statement as the server's superuser through psql (for per-database settings). */
export function psql(server: PgServer, sql: string, database = "postgres"): string {
  const r = spawnSync("psql", ["-X", "-q", "-t", "-A", "-d", `${server.url.replace("/postgres?", `/${database}?`)}`, "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}
