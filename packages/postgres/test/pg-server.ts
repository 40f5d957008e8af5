/**
 * A throwaway PostgreSQL server for tests and benches: `initdb` in a temporary
 * directory, started and stopped with `pg_ctl`, reachable on a Unix socket in
 * that directory (and on a TCP address when asked, for tests whose nodes live
 * in network namespaces). Nothing is shared with any other server.
 *
 * PostgreSQL refuses to run as root, so under root (CI) the server runs as the
 * `postgres` user that Debian's package creates (or `nobody`), owning the
 * directory. `.ci/run` installs the package when it is missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options of {@link startPgServer}. */
export interface PgServerOptions {
  /** Also listen on this IPv4 address (TCP), e.g. the host end of a veth pair. Default: Unix socket only. */
  tcpAddress?: string;
  /** fsync on (true) for benches that measure durability; tests run with fsync off (crash tests kill processes, not the machine). */
  fsync?: boolean;
  /** Extra `postgresql.conf` lines. */
  config?: string[];
  /** Ports to try before chosen ones (a test of what happens when a port is taken). */
  tryPorts?: number[];
}

/** A running throwaway server. */
export interface PgServer {
  /** A `postgres://` URL for the Unix socket (`?host=<dir>`). */
  readonly url: string;
  /** The TCP URL when `tcpAddress` was given. */
  readonly tcpUrl: string | null;
  /** The TCP port (also names the Unix socket file). */
  readonly port: number;
  /** The directory holding the socket. */
  readonly socketDir: string;
  /** The postmaster's pid (changes on restart). */
  pid(): number;
  /** Restarts the server; `immediate` is a crash-like stop (no checkpoint, clients cut). */
  restart(mode?: "fast" | "immediate"): void;
  /** Stops the server (idempotent). */
  stop(mode?: "fast" | "immediate"): void;
  /** Stops it and removes its directory. */
  destroy(): void;
  /** The server log so far (for failure messages). */
  log(): string;
}

/** The directory of PostgreSQL's server binaries, or null when none is installed. */
export function findPgBin(): string | null {
  const fromEnv = process.env.TORPOR_PG_BIN;
  if (fromEnv !== undefined && existsSync(join(fromEnv, "pg_ctl"))) return fromEnv;
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], "bin");
  }
  const which = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" });
  const path = which.stdout.trim();
  return which.status === 0 && path !== "" ? path.slice(0, path.lastIndexOf("/")) : null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function pgUnavailableReason(): string | null {
  if (findPgBin() === null) return "no PostgreSQL server binaries (apt-get install postgresql, or set TORPOR_PG_BIN)";
  if (isRoot() && serverUser() === null) return "running as root and no unprivileged user (postgres or nobody) to run the server as";
  return null;
}

const live = new Set<PgServer>();
let exitHookInstalled = false;

/**
 * Creates and starts a server. Throws with the server log when it does not come up.
 * @example
 * const pg = startPgServer();
 * const client = new pg.Client({ connectionString: pg.url });
 */
export function startPgServer(options: PgServerOptions = {}): PgServer {
  const bin = findPgBin();
  if (bin === null) throw new Error(pgUnavailableReason() ?? "no PostgreSQL");
  const dir = mkdtempSync(join(tmpdir(), "torpor-pg-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  const user = isRoot() ? serverUser() : null;
  if (user !== null) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  const run = (cmd: string, args: string[]) => {
    const result = spawnSync(join(bin, cmd), args, {
      encoding: "utf8",
      ...(user !== null ? { uid: user.uid, gid: user.gid } : {}),
      env: { ...process.env, LC_ALL: "C", PGTZ: "UTC" },
      cwd: dir,
    });
    if (result.status !== 0) {
      const serverLog = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
      throw new Error(`${cmd} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}\n${serverLog}`);
    }
    return result.stdout;
  };
  run("initdb", ["-D", data, "-U", "torpor", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
  const writeConf = (port: number) => {
    const conf = [
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      `listen_addresses = '${options.tcpAddress ?? ""}'`,
      `fsync = ${options.fsync === true ? "on" : "off"}`,
      "synchronous_commit = on",
      "full_page_writes = on",
      "shared_buffers = 32MB",
      "max_connections = 100",
      "log_min_messages = warning",
      "log_line_prefix = '%m [%p] '",
      ...(options.config ?? []),
    ];
    writeFileSync(join(data, "postgresql.auto.conf"), `${conf.join("\n")}\n`);
    if (user !== null) chownSync(join(data, "postgresql.auto.conf"), user.uid, user.gid);
  };
  if (options.tcpAddress !== undefined) {
    // Trust on the test's own addresses: nothing else can reach a namespace's veth.
    writeFileSync(join(data, "pg_hba.conf"), "local all all trust\nhost all all 0.0.0.0/0 trust\n");
  }
  let port = options.tryPorts?.[0] ?? listenPort();
  writeConf(port);
  if (user !== null) execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, data]);

  let stopped = true;
  const ctl = (action: string, mode?: string) => run("pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "30", ...(mode ? ["-m", mode] : []), action]);
  // A TCP port can be taken between the choice and the start (by another server; never by an outgoing connection,
  // see listenPort): then another port, a few times. The Unix socket lives in this server's own directory.
  for (let attempt = 1; ; attempt++) {
    try {
      ctl("start");
      break;
    } catch (error) {
      const taken = options.tcpAddress !== undefined && /could not bind .* Address already in use/.test((error as Error).message);
      if (!taken || attempt >= 5) throw error;
      port = options.tryPorts?.[attempt] ?? listenPort();
      writeConf(port);
      // The log is read for the next failure's message: only that attempt's lines.
      writeFileSync(logFile, "");
    }
  }
  const server: PgServer = {
    url: `postgres://torpor@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    tcpUrl: options.tcpAddress === undefined ? null : `postgres://torpor@${options.tcpAddress}:${port}/postgres`,
    port,
    socketDir: dir,
    pid() {
      return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    },
    restart(mode = "fast") {
      if (!stopped) ctl("stop", mode);
      stopped = true;
      ctl("start");
      stopped = false;
    },
    stop(mode = "fast") {
      if (stopped) return;
      stopped = true;
      ctl("stop", mode);
    },
    destroy() {
      live.delete(server);
      try {
        server.stop("immediate");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    log() {
      return existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
    },
  };
  stopped = false;
  live.add(server);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test process that ends without destroy() (a crash, a timeout) must not leave a postmaster behind.
    process.on("exit", () => {
      for (const s of live) {
        try {
          s.destroy();
        } catch {
          // Best effort at exit.
        }
      }
    });
  }
  return server;
}

/**
 * A port below the kernel's ephemeral range (ip_local_port_range): the local port of an outgoing connection is
 * always inside that range, so no client of this machine can hold this port when the server starts or restarts
 * (a fault test restarts it on the same port while its nodes reconnect). Servers started on port 0 get ports in
 * that range too, so only another server choosing like this one can collide, and the start then tries again.
 */
function listenPort(): number {
  let low = 32_768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: the usual default.
  }
  const bottom = Math.max(1_025, low - 12_000);
  return bottom + Math.floor(Math.random() * Math.max(1, low - bottom));
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function serverUser(): { uid: number; gid: number } | null {
  for (const name of ["postgres", "nobody"]) {
    const r = spawnSync("id", ["-u", name], { encoding: "utf8" });
    const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  return null;
}
