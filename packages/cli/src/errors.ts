/** Stable codes of the errors the CLI reports (each ends the command with exit code 1). */
export type CliErrorCode =
  | "ERR_CLI_USAGE"
  | "ERR_CONFIG_NOT_FOUND"
  | "ERR_CONFIG_SYNTAX"
  | "ERR_CONFIG_INVALID"
  | "ERR_ENTRY_NOT_FOUND"
  | "ERR_ENTRY_LOAD"
  | "ERR_CLASS_NOT_EXPORTED"
  | "ERR_RELOAD_FAILED"
  | "ERR_BACKUP_ARCHIVE"
  | "ERR_BACKUP_FAILED"
  | "ERR_RESTORE_TARGET_NOT_EMPTY"
  | "ERR_D1_DATABASE_NOT_FOUND"
  | "ERR_D1_MIGRATIONS_NOT_FOUND"
  | "ERR_D1_MIGRATION_FAILED";

/**
 * An error the CLI prints as one line (`torpor: <message>`) before exiting
 * with code 1: a bad flag, a missing or malformed config, a missing class.
 */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
  }
}
