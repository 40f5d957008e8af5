/**
 * The CLI's loggers: `--log-format text` (readable lines on stderr, the
 * default of `torpor dev`) or `json` (one object a line on stdout, the
 * default of `torpor start`), at `--log-level`. Both carry the same fields:
 * `worker` in a cluster, `requestId` on lines about one request, the
 * object's `binding`/`object` id and `event` on lines about an object,
 * `durationMs`, an error with its `code` and `hint`.
 */
import type { Logger } from "@torpor/core";
import { consoleLogger, jsonLogger } from "@torpor/core/logger";
import type { CliArgs } from "./args.ts";

/** The logger a command writes with. */
export function cliLogger(args: Pick<CliArgs, "command" | "logLevel" | "logFormat">): Logger {
  const level = args.logLevel ?? "info";
  const format = args.logFormat ?? (args.command === "start" ? "json" : "text");
  return format === "json" ? jsonLogger(level) : consoleLogger(level);
}

/** A logger adding `fields` to every line (a cluster worker's index). */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: (m, f) => logger.debug(m, { ...fields, ...f }),
    info: (m, f) => logger.info(m, { ...fields, ...f }),
    warn: (m, f) => logger.warn(m, { ...fields, ...f }),
    error: (m, f) => logger.error(m, { ...fields, ...f }),
    ...(logger.level !== undefined ? { level: logger.level } : {}),
  };
}
