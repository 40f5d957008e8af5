import { adviceFor } from "./error-advice.ts";

/** Where the runtime reports what it cannot throw to a caller: handler errors, failed commits, lifecycle. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** The lowest level written, when known: lets callers skip building fields for lines that would be dropped. */
  readonly level?: LogLevel;
}

const levels = ["debug", "info", "warn", "error"] as const;
/** A log level name. */
export type LogLevel = (typeof levels)[number];

/** A human-readable logger on stderr, dropping messages below `level`. */
export function consoleLogger(level: LogLevel = "info"): Logger {
  return leveled(level, (l, message, fields) => {
    fields = withHint(fields);
    const extra = fields && Object.keys(fields).length > 0 ? ` ${formatFields(fields)}` : "";
    process.stderr.write(`[torpor] ${l}: ${message}${extra}\n`);
  });
}

/**
 * One JSON object per line on stdout, for production log collectors:
 * `time`, `level`, `message`, then the fields (an error as `{ name, message,
 * stack, code }`), with the error's `code` repeated at the top level and
 * `hint` (how to fix it) when one is known, so collectors can filter on both.
 */
export function jsonLogger(level: LogLevel = "info"): Logger {
  return leveled(level, (l, message, fields) => {
    process.stdout.write(`${jsonLine(l, message, fields)}\n`);
  });
}

/** One log line as JSON (what `jsonLogger` writes). */
export function jsonLine(level: LogLevel, message: string, fields?: Record<string, unknown>): string {
  const out: Record<string, unknown> = { time: new Date().toISOString(), level, message, ...serializable(withHint(fields)) };
  const code = (fields?.error as { code?: unknown } | undefined)?.code;
  if (out.code === undefined && typeof code === "string") out.code = code;
  return JSON.stringify(out);
}

/** Whether `logger` writes lines of `level` (true when it does not say). */
export function logsAt(logger: Logger, level: LogLevel): boolean {
  return logger.level === undefined || levels.indexOf(level) >= levels.indexOf(logger.level);
}

/** A logger writing through `write`, with levels below `level` turned into no-ops. */
function leveled(level: LogLevel, write: (level: LogLevel, message: string, fields?: Record<string, unknown>) => void): Logger {
  const min = levels.indexOf(level);
  const make = (l: LogLevel) => (levels.indexOf(l) < min ? () => {} : (message: string, fields?: Record<string, unknown>) => write(l, message, fields));
  return { debug: make("debug"), info: make("info"), warn: make("warn"), error: make("error"), level };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** One line a logger recorded. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps what is logged, so tests assert on it and nothing reaches the console. */
export interface RecordingLogger extends Logger {
  /** Everything logged so far, oldest first. */
  readonly entries: LogEntry[];
}

/**
 * A logger that records entries instead of printing them (tests fail on
 * console output; library code takes a logger).
 *
 * @example
 * const logger = recordingLogger();
 * expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
 */
export function recordingLogger(): RecordingLogger {
  const entries: LogEntry[] = [];
  const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    entries.push(fields === undefined ? { level, message } : { level, message, fields });
  };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Adds `hint`, how to fix it, when `fields.error` is an error whose message (workerd's) carries no advice. */
function withHint(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const hint = fields === undefined || "hint" in fields ? undefined : adviceFor(fields.error);
  return hint === undefined ? fields : { ...fields, hint };
}

function serializable(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack, code: (v as { code?: unknown }).code } : v;
  }
  return out;
}

function formatFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => (v instanceof Error ? `${k}=${v.stack ?? v.message}` : `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`))
    .join(" ");
}
