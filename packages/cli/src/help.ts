/**
 * `torpor --help`: loaded only when asked for, since the limits' defaults in it are core's Runtime's (a
 * process that only parses its command line, as a cluster supervisor does, loads no runtime).
 */
import { runtimeDefaults } from "@torpor/core";
import { flagOf, LIMITS, type LimitRow } from "./limits.ts";

/** The help text; every flag is listed here. */
export const HELP = `torpor: run a Cloudflare Worker and its Durable Objects on Node.js

Usage:
  torpor dev   [entry] [options]   development: readable logs; reloads when the Worker's sources or
                                   the config change, keeping hibernatable WebSockets connected
  torpor start [entry] [options]   production: JSON logs, graceful shutdown on SIGTERM/SIGINT,
                                   one worker process per core, SIGHUP reloads without disconnects
  torpor reload [options]          reloads a running torpor start (found through --persist-to)
  torpor backup --out <file> [options]
                                   a consistent copy of every object (and the alarm index) while
                                   the server keeps serving (or of a directory nobody serves)
  torpor restore <file> [options]  unpacks a backup into an unused, empty --persist-to
  torpor d1 migrate [database]     applies a project's D1 migrations (torpor d1 --help)

  entry                       the Worker module (default: "main" from the config)

Options (named as in wrangler dev):
  -c, --config <file>         wrangler.jsonc, wrangler.json or wrangler.toml
                              (default: the first of these in the current directory);
                              repeat it to run more Workers in this process (-c a.jsonc -c b.jsonc):
                              the first serves the port, the others answer its service bindings
      --port <n>              port to listen on; 0 picks a free one (default: dev.port or 8787)
      --ip <addr>             interface to listen on (default: dev.ip or 127.0.0.1)
      --persist-to <dir>      directory for Durable Object storage (default: .torpor/state
                              beside the config); objects live in <dir>/do
      --var <KEY:VALUE>       add or override a var in env (repeatable)
      --out <file>            torpor backup: where to write the backup (a tar archive)
      --no-watch              torpor dev: do not reload on changes (one process, as torpor start --workers 1)

Limits (also settable in the config's "torpor" section, snake_case):
${limitsHelp()}

Cluster (torpor start; also "workers" in the config's "torpor" section):
      --workers <n>           worker processes sharing the port and the data directory
                              (default: the available cores; 1 runs one process, no supervisor)
      --move-timeout-ms <ms>  how long a reload waits for an object to move to the new workers
                              (running events, sockets draining); then the old worker is stopped
                              (default 30000)
      --route-timeout-ms <ms> how long a call waits for its object's worker (restarting, or
                              taking the object over); then it fails with ERR_OBJECT_UNAVAILABLE
                              (default 30000)

Several machines (torpor start; also in the config's "torpor" section, docs/scaling.md):
      --cluster <url>         join the cluster whose leases, slots and logs are in this
                              PostgreSQL database (postgres://user:pass@host:port/db)
      --durability <mode>     postgres: object data is durable in PostgreSQL and survives the
                              node (default); local: on this node's disk, its objects wait for it
      --lease-ttl-ms <ms>     the node's lease on PostgreSQL's clock (default 10000); a node
                              that cannot renew stops before it runs out
      --peer-port <n>         port other nodes forward calls and WebSockets to (default 0: free)
      --node-address <h:p>    how other nodes reach that port (default: --ip and the port)

Admin endpoint (off unless --admin-port is given):
      --admin-port <n>        port of the admin endpoint; 0 picks a free one
      --admin-ip <addr>       its interface (default 127.0.0.1)
      --admin-token <secret>  required as "Authorization: Bearer <secret>" on every admin
                              request (default: $TORPOR_ADMIN_TOKEN); needed to bind beyond
                              loopback. Without one, POSTs need the header X-Torpor-Admin: 1
                              GET /objects, POST /objects/<binding>/<name>/hibernate, GET /metrics

Other:
      --log-level <level>     debug, info, warn or error (default info); debug adds a line
                              per request (id, method, path, status, duration)
      --log-format <format>   text (readable, on stderr) or json (one object a line, on
                              stdout); default text for dev, json for start
  -h, --help                  show this help
  -v, --version               show the version
`;

/** The default of a limit: the Runtime's. */
export function defaultOf(row: LimitRow): number {
  const defaults = runtimeDefaults();
  const group = (row.group === "runtime" ? defaults : row.group === "limits" ? defaults.limits : defaults.server) as unknown as Record<string, number>;
  return group[row.name]!;
}

/** The `--help` lines of the limits: flag, text, default (and ceiling), wrapped under the text's column. */
export function limitsHelp(width = 100): string {
  const column = 36;
  const lines: string[] = [];
  for (const row of LIMITS as readonly LimitRow[]) {
    const head = `      --${flagOf(row)} <${row.unit}>`.padEnd(column);
    const max = row.max === undefined ? "" : `, max ${row.max.value}`;
    const words = `${row.help} (default ${defaultOf(row)}${max})`.split(" ");
    let line = head;
    for (const word of words) {
      if (line.length > column && line.length + 1 + word.length > width) {
        lines.push(line);
        line = " ".repeat(column);
      }
      line += line.length === column ? word : ` ${word}`;
    }
    lines.push(line);
  }
  return lines.join("\n");
}
