import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { parse as parseToml, TomlError } from "smol-toml";
import { BINDING_PLUGINS, bindingWarnings, boundNames, type BindingsConfig } from "@torpor/bindings/plugins";
import { nonNegativeInt, positiveInt } from "@torpor/core/storage";
import { z } from "zod";
import { resolveCompatibility } from "@torpor/core";
import { CliError } from "./errors.ts";
import { configKeyOf, LIMITS, type LimitRow, type LimitValues } from "./limits.ts";
import { moduleRulesSchema, parseModuleRules, type ModuleRules } from "./module-rules.ts";
import { queuesLine, workflowsLine } from "./not-provided.ts";

/** The files looked for, in order, when `--config` is not given (as wrangler does). */
export const CONFIG_FILES = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"] as const;

/** One `durable_objects.bindings` entry. */
export interface DurableObjectBinding {
  name: string;
  className: string;
}

/** Torpor's own settings: the `torpor` section of the config (flags override them). */
export interface TorporSection extends LimitValues {
  workers?: number | undefined;
  /** Several machines: the PostgreSQL URL of the cluster (docs/scaling.md). */
  cluster?: string | undefined;
  /** Where object data is durable in a cluster: `postgres` (the log, survives the node) or `local` (this node's disk). */
  durability?: "postgres" | "local" | undefined;
  /** The node's lease on PostgreSQL's clock, ms. */
  leaseTtlMs?: number | undefined;
  /** How other nodes reach this one's peer endpoint (`host:port`). */
  nodeAddress?: string | undefined;
  /** Port of the peer endpoint other nodes forward calls to. */
  peerPort?: number | undefined;
  moveTimeoutMs?: number | undefined;
  routeTimeoutMs?: number | undefined;
}

/** One `services` entry: env.<binding> calls the Worker named `service` (its `entrypoint` export, else the default). */
export interface ServiceBindingConfig {
  binding: string;
  service: string;
  entrypoint?: string | undefined;
}

/** What Torpor uses of a wrangler config. */
export interface WorkerConfig {
  /** The config file, or null when there is none. */
  path: string | null;
  /** `name`: what other Workers' service bindings call this one by. */
  name?: string | undefined;
  /** `services`: bindings to other Workers of this process (or to this one). */
  services?: ServiceBindingConfig[] | undefined;
  /** `main`, resolved against the config's directory. */
  main: string | undefined;
  compatibilityDate: string | undefined;
  compatibilityFlags: string[];
  vars: Record<string, unknown>;
  bindings: DurableObjectBinding[];
  /** The other bindings (KV, D1, R2…): each @torpor/bindings plugin's parsed config key, by key. */
  bindingConfig: BindingsConfig;
  /** `dev.port` / `dev.ip`, defaults for the flags. */
  dev: { port?: number | undefined; ip?: string | undefined };
  torpor: TorporSection;
  /** `rules` combined with wrangler's defaults: how `.wasm`, `.txt`, `.html`, `.bin` (and the config's globs) import. */
  moduleRules: ModuleRules;
  /** Keys present but unknown or unsupported, one message each. */
  warnings: string[];
}

/** The config's schema of a limit (messages without a name: the config error names the key). */
function configSchemaOf(row: LimitRow): z.ZodType<number> {
  const base = row.min === 0 ? nonNegativeInt : positiveInt;
  return row.max === undefined ? base : base.max(row.max.value, `must be at most ${row.max.value} (${row.max.why})`);
}

const className = z.string().regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript class name");
const bindingName = z.string().regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript identifier (it becomes env.<name>)");

const bindingSchema = z.looseObject({
  name: bindingName,
  class_name: className,
  script_name: z.string().optional(),
  environment: z.string().optional(),
});

const migrationSchema = z.looseObject({
  tag: z.string().min(1),
  new_sqlite_classes: z.array(className).optional(),
  new_classes: z.array(className).optional(),
  renamed_classes: z.array(z.strictObject({ from: className, to: className })).optional(),
  deleted_classes: z.array(className).optional(),
  transferred_classes: z.array(z.unknown()).optional(),
});

const torporSchema = z.strictObject({
  // The limits (limits.ts), each under its snake_case key.
  ...Object.fromEntries(LIMITS.map((row) => [configKeyOf(row), configSchemaOf(row).optional()])),
  workers: positiveInt.max(256, "must be at most 256 (the number of slots)").optional(),
  cluster: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a "postgres://…" URL')
    .optional(),
  durability: z.enum(["postgres", "local"]).optional(),
  lease_ttl_ms: z.number().int().min(1_000, "must be at least 1000").optional(),
  node_address: z.string().min(1).optional(),
  peer_port: z.number().int().min(0).max(65_535).optional(),
  move_timeout_ms: positiveInt.optional(),
  route_timeout_ms: positiveInt.optional(),
});

const serviceSchema = z.looseObject({
  binding: bindingName,
  service: z.string().min(1),
  entrypoint: z
    .string()
    .regex(/^[A-Za-z_$][\w$]*$/, "must be the name of an exported class")
    .optional(),
  environment: z.string().optional(),
});

const configSchema = z.looseObject({
  name: z.string().min(1).optional(),
  main: z.string().min(1).optional(),
  compatibility_date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like "2025-01-31"')
    .optional(),
  compatibility_flags: z.array(z.string()).default([]),
  vars: z.record(z.string(), z.unknown()).default({}),
  durable_objects: z.looseObject({ bindings: z.array(bindingSchema).default([]) }).optional(),
  migrations: z.array(migrationSchema).default([]),
  dev: z.looseObject({ port: z.number().int().min(0).max(65_535).optional(), ip: z.string().min(1).optional() }).optional(),
  torpor: torporSchema.optional(),
  rules: moduleRulesSchema.default([]),
  services: z.array(serviceSchema).default([]),
});

/** Each binding plugin's key (KV, D1, R2…), validated by the plugin's schema. */
const bindingsSchema = z.looseObject(Object.fromEntries(BINDING_PLUGINS.map((p) => [p.key, p.schema.optional()])));

/** Read and used. */
const USED = new Set([...Object.keys(configSchema.shape), ...Object.keys(bindingsSchema.shape)]);
/** About deploying, not running: accepted without a warning. */
const DEPLOY_ONLY = new Set([
  "$schema",
  "account_id",
  "workers_dev",
  "preview_urls",
  "route",
  "routes",
  "observability",
  "upload_source_maps",
  "keep_vars",
  "minify",
  "logpush",
  "tail_consumers",
  "send_metrics",
  "placement",
]);
/** Why some well-known keys have no effect here. */
const UNSUPPORTED: Record<string, string> = {
  env: "named environments are not supported; the top-level configuration is used",
  kv_namespaces: "KV bindings are not provided",
  r2_buckets: "R2 bindings are not provided",
  d1_databases: "D1 bindings are not provided",
  triggers: "cron triggers are not run",
  site: "Workers Sites are not served",
  build: "custom builds are not run; the entry is loaded as is (TypeScript through tsx)",
  limits: "CPU limits are not enforced",
  send_email: "sending email is not supported (EmailMessage from cloudflare:email is importable, but there is nothing to send it with)",
};

/**
 * Finds the config file: `--config` if given, else the first of
 * wrangler.jsonc, wrangler.json, wrangler.toml in `cwd`. Null when none exists
 * and none was asked for.
 */
export function findConfig(configFlag: string | undefined, cwd: string): string | null {
  if (configFlag !== undefined) {
    const path = resolve(cwd, configFlag);
    if (!existsSync(path)) throw new CliError("ERR_CONFIG_NOT_FOUND", `Config file ${path} does not exist.`);
    return path;
  }
  for (const name of CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** Reads, parses and validates a wrangler config; a problem throws one precise CliError. */
export function readConfig(path: string): WorkerConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new CliError("ERR_CONFIG_NOT_FOUND", `Cannot read config file ${path}: ${(cause as Error).message}.`, { cause });
  }
  return parseConfig(text, path);
}

/** Parses config text; the format follows the file name's extension (.toml or JSON with comments). */
export function parseConfig(text: string, path: string): WorkerConfig {
  const raw = path.endsWith(".toml") ? parseTomlText(text, path) : parseJsoncText(text, path);
  return validateConfig(raw, path);
}

function parseJsoncText(text: string, path: string): unknown {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first !== undefined) {
    const { line, column } = lineAndColumn(text, first.offset);
    throw new CliError("ERR_CONFIG_SYNTAX", `${basename(path)}:${line}:${column}: invalid JSON: ${describeJsoncError(printParseErrorCode(first.error))}.`);
  }
  return value;
}

function parseTomlText(text: string, path: string): unknown {
  try {
    return parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const message = error.message.split("\n")[0] ?? error.message;
      throw new CliError("ERR_CONFIG_SYNTAX", `${basename(path)}:${error.line}:${error.column}: invalid TOML: ${message}`);
    }
    throw error;
  }
}

/** Validates a parsed config object (JSON or TOML alike). */
export function validateConfig(raw: unknown, path: string): WorkerConfig {
  const file = basename(path);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CliError("ERR_CONFIG_INVALID", `${file}: the top level must be an object of settings.`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error, file);
  const parsedBindings = bindingsSchema.safeParse(raw);
  if (!parsedBindings.success) throw invalid(parsedBindings.error, file);
  const data = parsed.data;
  const warnings: string[] = [];
  for (const key of Object.keys(raw)) {
    if (USED.has(key) || DEPLOY_ONLY.has(key)) continue;
    if (key === "queues" || key === "workflows") {
      warnings.push((key === "queues" ? queuesLine : workflowsLine)((raw as Record<string, unknown>)[key], file));
      continue;
    }
    const why = UNSUPPORTED[key];
    warnings.push(why !== undefined ? `${file}: "${key}" is ignored: ${why}.` : `${file}: unknown key "${key}" is ignored.`);
  }
  const bindingConfig: BindingsConfig = {};
  for (const plugin of BINDING_PLUGINS) {
    const value = (parsedBindings.data as Record<string, unknown>)[plugin.key];
    if (value !== undefined) bindingConfig[plugin.key] = value;
  }
  warnings.push(...bindingWarnings(bindingConfig, file));
  const doBindings = data.durable_objects?.bindings ?? [];
  for (const key of Object.keys(data.durable_objects ?? {})) {
    if (key !== "bindings") warnings.push(`${file}: unknown key "durable_objects.${key}" is ignored.`);
  }
  doBindings.forEach((b, i) => {
    for (const key of Object.keys(b)) {
      if (key === "name" || key === "class_name") continue;
      const where = `durable_objects.bindings[${i}].${key}`;
      if (key === "script_name")
        warnings.push(`${file}: "${where}" is ignored: objects of other Workers are not reachable; "${b.class_name}" is looked up in this Worker's entry.`);
      else if (key === "environment") warnings.push(`${file}: "${where}" is ignored: named environments are not supported.`);
      else warnings.push(`${file}: unknown key "${where}" is ignored.`);
    }
  });
  const seen = new Set<string>();
  doBindings.forEach((b, i) => {
    if (seen.has(b.name))
      throw new CliError(
        "ERR_CONFIG_INVALID",
        `${file}: "durable_objects.bindings[${i}].name" repeats the binding name "${b.name}"; each binding needs its own name.`,
      );
    seen.add(b.name);
  });
  for (const { name, key } of boundNames(bindingConfig)) {
    if (seen.has(name))
      throw new CliError(
        "ERR_CONFIG_INVALID",
        `${file}: "${key}" binds the name "${name}", which another binding already uses; each binding needs its own name.`,
      );
    seen.add(name);
  }
  data.services.forEach((b, i) => {
    if (seen.has(b.binding))
      throw new CliError(
        "ERR_CONFIG_INVALID",
        `${file}: "services[${i}].binding" binds the name "${b.binding}", which another binding already uses; each binding needs its own name.`,
      );
    seen.add(b.binding);
    for (const key of Object.keys(b)) {
      if (key === "environment") warnings.push(`${file}: "services[${i}].environment" is ignored: named environments are not supported.`);
      else if (!(key in serviceSchema.shape)) warnings.push(`${file}: unknown key "services[${i}].${key}" is ignored.`);
    }
  });
  warnings.push(...checkMigrations(data.migrations, doBindings, file));
  const { warnings: ruleWarnings, ...moduleRules } = parseModuleRules(data.rules, file);
  warnings.push(...ruleWarnings);
  for (const key of Object.keys(data.dev ?? {})) {
    if (key !== "port" && key !== "ip") warnings.push(`${file}: "dev.${key}" is ignored.`);
  }
  const { unknown } = resolveCompatibility(data.compatibility_date, data.compatibility_flags);
  if (unknown.length > 0) {
    warnings.push(
      `${file}: compatibility flag${unknown.length > 1 ? "s" : ""} ${unknown.map((f) => `"${f}"`).join(", ")} ${unknown.length > 1 ? "are" : "is"} not known to Torpor and change${unknown.length > 1 ? "" : "s"} nothing (the flags it honours are listed in docs/compatibility.md).`,
    );
  }

  const t = data.torpor ?? {};
  return {
    path,
    name: data.name,
    services: data.services.map((b) => ({ binding: b.binding, service: b.service, entrypoint: b.entrypoint })),
    main: data.main === undefined ? undefined : resolve(dirname(path), data.main),
    compatibilityDate: data.compatibility_date,
    compatibilityFlags: data.compatibility_flags,
    vars: data.vars,
    bindings: doBindings.map((b) => ({ name: b.name, className: b.class_name })),
    bindingConfig,
    dev: { port: data.dev?.port, ip: data.dev?.ip },
    torpor: {
      ...Object.fromEntries(LIMITS.map((row) => [row.name, (t as Record<string, number | undefined>)[configKeyOf(row)]])),
      workers: t.workers,
      cluster: t.cluster,
      durability: t.durability,
      leaseTtlMs: t.lease_ttl_ms,
      nodeAddress: t.node_address,
      peerPort: t.peer_port,
      moveTimeoutMs: t.move_timeout_ms,
      routeTimeoutMs: t.route_timeout_ms,
    },
    moduleRules,
    warnings,
  };
}

type Migration = z.output<typeof migrationSchema>;

/**
 * Replays the migrations as Cloudflare would and checks every bound class
 * exists at the end. Storage here is keyed by binding name, so renames need
 * no data move; a bound class that a migration deleted is an error.
 */
function checkMigrations(migrations: Migration[], bindings: Array<{ name: string; class_name: string }>, file: string): string[] {
  const warnings: string[] = [];
  const classes = new Set<string>();
  const deleted = new Map<string, string>();
  const tags = new Set<string>();
  migrations.forEach((m, i) => {
    if (tags.has(m.tag))
      throw new CliError("ERR_CONFIG_INVALID", `${file}: "migrations[${i}].tag" repeats the tag "${m.tag}"; each migration needs its own tag.`);
    tags.add(m.tag);
    for (const key of Object.keys(m)) {
      if (key === "transferred_classes")
        warnings.push(`${file}: "migrations[${i}].transferred_classes" is ignored: there are no other Workers to transfer from.`);
      else if (!(key in migrationSchema.shape)) warnings.push(`${file}: unknown key "migrations[${i}].${key}" is ignored.`);
    }
    for (const c of [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])]) {
      classes.add(c);
      deleted.delete(c);
    }
    for (const { from, to } of m.renamed_classes ?? []) {
      if (!classes.delete(from)) warnings.push(`${file}: "migrations[${i}].renamed_classes" renames "${from}", which no earlier migration created.`);
      classes.add(to);
    }
    for (const c of m.deleted_classes ?? []) {
      classes.delete(c);
      deleted.set(c, m.tag);
    }
  });
  bindings.forEach((b, i) => {
    const tag = deleted.get(b.class_name);
    if (tag !== undefined) {
      throw new CliError(
        "ERR_CONFIG_INVALID",
        `${file}: "durable_objects.bindings[${i}].class_name" is "${b.class_name}", which migration "${tag}" deletes. Remove the binding or the deletion.`,
      );
    }
    if (!classes.has(b.class_name)) {
      warnings.push(
        `${file}: no migration creates "${b.class_name}" (bound as ${b.name}); Cloudflare requires one: add { "tag": "v1", "new_sqlite_classes": ["${b.class_name}"] } to "migrations".`,
      );
    }
  });
  return warnings;
}

function invalid(error: z.ZodError, file: string): CliError {
  const issue = error.issues[0]!;
  return new CliError("ERR_CONFIG_INVALID", `${file}: "${formatPath(issue.path)}" ${issue.message}.`);
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return "(top level)";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

function describeJsoncError(code: string): string {
  // printParseErrorCode gives names like "CommaExpected"; make them read as words.
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}
