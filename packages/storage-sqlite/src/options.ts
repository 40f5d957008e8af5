/** Options of `sqliteStorage()`, validated once at the public boundary. */
import { z } from "zod";
import { TorporError, type StorageLimits } from "@torpor/core";
import { nonNegativeInt, positiveInt } from "@torpor/core/storage";

/** How hard SQLite works to make a commit survive power loss (`PRAGMA synchronous`). */
export type SynchronousMode = "FULL" | "NORMAL" | "OFF";

/** Options of {@link sqliteStorage}. */
export interface SqliteStorageOptions {
  /** Data directory; one database per object at `<dir>/<namespace>/<id>.sqlite`. `":memory:"` keeps everything in memory (tests). Default `.torpor/storage`. */
  dir?: string;
  /** `PRAGMA synchronous` of every database. Default `"FULL"`: an acknowledged commit survives power loss. */
  synchronous?: SynchronousMode;
  /** How many databases of hibernated objects stay open for a faster wake (each holds file descriptors). Default 0: a hibernated object holds no file. */
  maxOpenDatabases?: number;
  /** Storage limits; Cloudflare's by default. */
  limits?: Partial<StorageLimits>;
}

/** The options with every default filled in. */
export interface ResolvedSqliteStorageOptions {
  dir: string;
  synchronous: SynchronousMode;
  maxOpenDatabases: number;
  limits: Partial<StorageLimits>;
}

const schema = z.strictObject({
  dir: z.string().min(1).default(".torpor/storage"),
  synchronous: z.enum(["FULL", "NORMAL", "OFF"]).default("FULL"),
  maxOpenDatabases: nonNegativeInt.default(0),
  limits: z.strictObject({ maxKeyBytes: positiveInt.optional(), maxValueBytes: positiveInt.optional(), maxKeysPerCall: positiveInt.optional() }).default({}),
});

/** Validates options, throwing one ERR_INVALID_OPTIONS naming the first bad option. */
export function resolveSqliteStorageOptions(options: unknown): ResolvedSqliteStorageOptions {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join(".") : "(options)";
    throw new TorporError(
      "ERR_INVALID_OPTIONS",
      `sqliteStorage() option ${path} is invalid: ${issue.message}. Valid options: dir (string), synchronous ("FULL" | "NORMAL" | "OFF"), maxOpenDatabases (integer >= 0), limits ({ maxKeyBytes, maxValueBytes, maxKeysPerCall }).`,
    );
  }
  const { limits, ...rest } = parsed.data;
  // Drop undefined entries so they do not override the defaults.
  return { ...rest, limits: Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
}
