import type { Logger, LogLevel } from "@torpor/core";

/** One line the runtime logged. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps what the runtime logs, so tests assert on it and nothing reaches the console. */
export interface RecordingLogger extends Logger {
  /** Everything logged so far, oldest first. */
  readonly entries: LogEntry[];
}

/**
 * A logger that records entries instead of printing them.
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
