import { parseArgs } from "node:util";
import type { TorporSection } from "./config.ts";
import { CliError } from "./errors.ts";
import { flagOf, LIMITS, type LimitValues } from "./limits.ts";

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

/** A number flag's range and its messages (each names the flag). */
interface NumberFlag {
  min: number;
  /** The message below `min`, where it is not "must be at least <min>". */
  belowMessage?: string;
  /** A ceiling, and the message past it. */
  max?: { value: number; message: string };
}

const port = (flag: string): NumberFlag => {
  const range = `${flag} must be 0 to 65535`;
  return { min: 0, belowMessage: range, max: { value: 65_535, message: range } };
};

const numberFlags = {
  port: port("--port"),
  "admin-port": port("--admin-port"),
  workers: { min: 1, max: { value: 256, message: "--workers must be at most 256 (the number of slots)" } },
  "lease-ttl-ms": { min: 1_000 },
  "peer-port": port("--peer-port"),
  "move-timeout-ms": { min: 1 },
  "route-timeout-ms": { min: 1 },
} satisfies Record<string, NumberFlag>;

const choiceFlags = {
  "log-level": { values: ["debug", "info", "warn", "error"] as const, message: "--log-level must be debug, info, warn or error" },
  "log-format": { values: ["text", "json"] as const, message: "--log-format must be text or json" },
};

/** The flags of the limits (limits.ts), as `parseArgs` options. */
const LIMIT_FLAGS = Object.fromEntries(LIMITS.map((row) => [flagOf(row), { type: "string" as const }]));

/**
 * A number flag's value, or one ERR_CLI_USAGE naming the flag and the value. By hand rather than with a schema
 * library, so that a cluster supervisor, which parses its command line too, loads none (issue 23 item 4); the
 * checks are zod's `z.coerce.number().int().min().max()` as they were: `Number(raw)` (blank is not 0), finite,
 * a safe integer, then the range.
 */
function numberFlag(flag: string, raw: string, range: NumberFlag): number {
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  const fail = (message: string) => new CliError("ERR_CLI_USAGE", `${message}; got "${raw}".`);
  if (!Number.isFinite(value)) throw fail(`${flag} must be a number`);
  if (!Number.isSafeInteger(value)) throw fail(`${flag} must be a whole number`);
  if (value < range.min) throw fail(range.belowMessage ?? `${flag} must be at least ${range.min}`);
  if (range.max !== undefined && value > range.max.value) throw fail(range.max.message);
  return value;
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

  const raw = (flag: string) => (values as Record<string, string | undefined>)[flag];
  const checked = (flag: keyof typeof numberFlags): number | undefined => {
    const given = raw(flag);
    return given === undefined ? undefined : numberFlag(`--${flag}`, given, numberFlags[flag]);
  };
  const chosen = <K extends keyof typeof choiceFlags>(flag: K): (typeof choiceFlags)[K]["values"][number] | undefined => {
    const given = raw(flag);
    const { values: allowed, message } = choiceFlags[flag];
    if (given === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(given)) throw new CliError("ERR_CLI_USAGE", `${message}; got "${given}".`);
    return given as (typeof choiceFlags)[K]["values"][number];
  };

  if (values["admin-token"] !== undefined && values["admin-token"].trim() === "") throw new CliError("ERR_CLI_USAGE", "--admin-token must not be empty.");

  const limits: LimitValues = {};
  for (const row of LIMITS) {
    const flag = flagOf(row);
    const given = raw(flag);
    if (given !== undefined)
      limits[row.name] = numberFlag(`--${flag}`, given, {
        min: row.min,
        ...("max" in row ? { max: { value: row.max.value, message: `--${flag} must be at most ${row.max.value} (${row.max.why})` } } : {}),
      });
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
    logLevel: chosen("log-level"),
    logFormat: chosen("log-format"),
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
