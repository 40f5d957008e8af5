import { parseArgs } from "node:util";
import { z } from "zod";
import type { TorporSection } from "./config.ts";
import { CliError } from "./errors.ts";
import { flagOf, flagSchemaOf, LIMITS, limitsHelp, type LimitValues } from "./limits.ts";

/** `dev`: readable logs for a terminal. `start`: JSON logs for production. */
export type Command = "dev" | "start" | "reload" | "backup" | "restore";

/** The parsed command line. Unset options (the limits too) fall back to the config, then to defaults. */
export interface CliArgs extends TorporSection {
  command: Command | "help" | "version";
  entry?: string | undefined;
  config?: string | undefined;
  /** `-c` given more than once: the configs after the first, each another Worker of this process (as wrangler dev). */
  moreConfigs?: string[] | undefined;
  port?: number | undefined;
  ip?: string | undefined;
  persistTo?: string | undefined;
  /** `torpor backup`: the file to write. */
  out?: string | undefined;
  vars: Record<string, string>;
  adminPort?: number | undefined;
  adminIp: string;
  adminToken?: string | undefined;
  workers?: number | undefined;
  logLevel?: "debug" | "info" | "warn" | "error" | undefined;
  /** `text` (readable, stderr) or `json` (one object a line, stdout); default text for dev, json for start. */
  logFormat?: "text" | "json" | undefined;
  /** `torpor dev`: reload when a source file changes (off with --no-watch). */
  watch: boolean;
}

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

const port = (flag: string) =>
  z.coerce
    .number({ message: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(0, `${flag} must be 0 to 65535`)
    .max(65_535, `${flag} must be 0 to 65535`);
const count = (flag: string, min: number) =>
  z.coerce
    .number({ message: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(min, `${flag} must be at least ${min}`);

const flagSchemas = {
  port: port("--port"),
  "admin-port": port("--admin-port"),
  workers: count("--workers", 1).max(256, "--workers must be at most 256 (the number of slots)"),
  "lease-ttl-ms": count("--lease-ttl-ms", 1_000),
  "peer-port": port("--peer-port"),
  "move-timeout-ms": count("--move-timeout-ms", 1),
  "route-timeout-ms": count("--route-timeout-ms", 1),
  "log-level": z.enum(["debug", "info", "warn", "error"], { message: "--log-level must be debug, info, warn or error" }),
  "log-format": z.enum(["text", "json"], { message: "--log-format must be text or json" }),
};

/** The flags of the limits (limits.ts), as `parseArgs` options. */
const LIMIT_FLAGS = Object.fromEntries(LIMITS.map((row) => [flagOf(row), { type: "string" as const }]));

/** A flag's value checked by its schema; a bad one throws one ERR_CLI_USAGE naming the flag and the value. */
function parseFlag(schema: z.ZodType, raw: string): unknown {
  const result = schema.safeParse(raw.trim() === "" ? Number.NaN : raw);
  if (!result.success) throw new CliError("ERR_CLI_USAGE", `${result.error.issues[0]!.message}; got "${raw}".`);
  return result.data;
}

/** Parses `argv` (without node and the script); a bad flag throws one ERR_CLI_USAGE. */
export function parseCliArgs(argv: string[]): CliArgs {
  // biome-ignore lint/suspicious/noImplicitAnyLet: not any: TypeScript types it from the one assignment below (parseArgs with these options).
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c", multiple: true },
        port: { type: "string" },
        ip: { type: "string" },
        "persist-to": { type: "string" },
        out: { type: "string" },
        var: { type: "string", multiple: true },
        ...LIMIT_FLAGS,
        workers: { type: "string" },
        cluster: { type: "string" },
        durability: { type: "string" },
        "lease-ttl-ms": { type: "string" },
        "node-address": { type: "string" },
        "peer-port": { type: "string" },
        "move-timeout-ms": { type: "string" },
        "route-timeout-ms": { type: "string" },
        "admin-port": { type: "string" },
        "admin-ip": { type: "string" },
        "admin-token": { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        "no-watch": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (error) {
    throw new CliError("ERR_CLI_USAGE", `${(error as Error).message.replace(/\.$/, "")}. Run torpor --help for the options.`);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { command: "help", vars: {}, adminIp: "127.0.0.1", watch: false };
  if (values.version === true) return { command: "version", vars: {}, adminIp: "127.0.0.1", watch: false };
  const [command, entry, ...extra] = positionals;
  if (command === undefined) throw new CliError("ERR_CLI_USAGE", "No command given: use torpor dev or torpor start (torpor --help lists the options).");
  if (command !== "dev" && command !== "start" && command !== "reload" && command !== "backup" && command !== "restore")
    throw new CliError("ERR_CLI_USAGE", `Unknown command "${command}": use torpor dev, start, reload, backup or restore.`);
  if (extra.length > 0)
    throw new CliError(
      "ERR_CLI_USAGE",
      `Unexpected argument "${extra[0]}": torpor ${command} takes at most one ${command === "restore" ? "backup file" : "entry file"}.`,
    );

  const checked = <K extends keyof typeof flagSchemas>(flag: K): z.output<(typeof flagSchemas)[K]> | undefined => {
    const raw = (values as Record<string, string | undefined>)[flag];
    return raw === undefined ? undefined : (parseFlag(flagSchemas[flag], raw) as z.output<(typeof flagSchemas)[K]>);
  };

  if (values["admin-token"] !== undefined && values["admin-token"].trim() === "") throw new CliError("ERR_CLI_USAGE", "--admin-token must not be empty.");

  const limits: LimitValues = {};
  for (const row of LIMITS) {
    const raw = (values as Record<string, string | undefined>)[flagOf(row)];
    if (raw !== undefined) limits[row.name] = parseFlag(flagSchemaOf(row), raw) as number;
  }

  const vars: Record<string, string> = {};
  for (const pair of values.var ?? []) {
    const at = pair.indexOf(":");
    if (at <= 0) throw new CliError("ERR_CLI_USAGE", `--var takes KEY:VALUE; got "${pair}".`);
    vars[pair.slice(0, at)] = pair.slice(at + 1);
  }

  return {
    command,
    entry,
    config: values.config?.[0],
    moreConfigs: values.config !== undefined && values.config.length > 1 ? values.config.slice(1) : undefined,
    port: checked("port"),
    ip: values.ip,
    persistTo: values["persist-to"],
    out: values.out,
    vars,
    ...limits,
    workers: checked("workers"),
    cluster: clusterUrl(values.cluster),
    durability: durability(values.durability),
    leaseTtlMs: checked("lease-ttl-ms"),
    nodeAddress: values["node-address"],
    peerPort: checked("peer-port"),
    moveTimeoutMs: checked("move-timeout-ms"),
    routeTimeoutMs: checked("route-timeout-ms"),
    adminPort: checked("admin-port"),
    adminIp: values["admin-ip"] ?? "127.0.0.1",
    adminToken: values["admin-token"],
    logLevel: checked("log-level"),
    logFormat: checked("log-format"),
    watch: values["no-watch"] !== true,
  };
}

function clusterUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw))
    throw new CliError("ERR_CLI_USAGE", `--cluster takes a "postgres://…" URL; got "${raw.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@")}".`);
  return raw;
}

function durability(raw: string | undefined): "postgres" | "local" | undefined {
  if (raw === undefined) return undefined;
  if (raw !== "postgres" && raw !== "local") throw new CliError("ERR_CLI_USAGE", `--durability must be postgres or local; got "${raw}".`);
  return raw;
}
