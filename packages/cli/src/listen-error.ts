/** Listening errors as the user reads them: apart from serve-settings.ts, so that a supervisor needs no config modules for them. */
import { CliError } from "./errors.ts";

/** A listen error the user can fix, as one line naming the flag. */
export function listenError(error: unknown, flag: string): unknown {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === "EADDRINUSE")
    return new CliError("ERR_CLI_USAGE", `Port ${e.port} on ${e.address} is in use; pick another with ${flag} (0 picks a free one).`);
  if (e.code === "EADDRNOTAVAIL" || e.code === "EACCES")
    return new CliError("ERR_CLI_USAGE", `Cannot listen on ${e.address}:${e.port} (${e.code}); check ${flag} and the address.`);
  return error;
}
