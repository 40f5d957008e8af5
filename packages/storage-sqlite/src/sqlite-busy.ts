/**
 * The one way this repository asks whether SQLite failed because another
 * connection (usually another process) holds a lock it needs.
 */

/**
 * True for SQLite's "another connection holds the lock" errors: SQLITE_BUSY and its extended codes (better-sqlite3
 * reports the extended one, e.g. SQLITE_BUSY_RECOVERY while another process recovers the WAL, SQLITE_BUSY_SNAPSHOT).
 */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"));
}
