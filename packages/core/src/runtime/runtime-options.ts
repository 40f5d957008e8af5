import { z } from "zod";
import type { HostDirectory } from "../ids/host-directory.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import {
  alarmRetrySchema,
  clockSchema,
  limitsSchema,
  loggerSchema,
  nonNegativeInt,
  optionsError,
  positiveInt,
  serverSchema,
  type Limits,
  type ServerLimits,
} from "../options.ts";
import type { StorageProvider } from "../storage/storage-provider.ts";
import { resolveCompatibility, type CompatibilityFlags } from "../compatibility.ts";

const fn = (what: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", { message: `must be ${what}` });

const runtimeOptionsSchema = z
  .object({
    objects: z
      .record(
        z.string(),
        z.custom<new (ctx: never, env: never) => object>((v) => typeof v === "function", { message: "must be a Durable Object class" }),
      )
      .superRefine((objects, ctx) => {
        for (const key of Object.keys(objects)) {
          if (!/^[A-Za-z_$][\w$]*$/.test(key)) ctx.addIssue({ code: "custom", path: [key], message: "binding names must be JavaScript identifiers" });
        }
      }),
    fetch: fn("a function (request, env, ctx) => Response").optional(),
    env: z.record(z.string(), z.unknown()).default({}),
    /** Extra `ctx.exports` entries besides each class's namespace (the CLI adds the Worker's entrypoints). */
    exports: z.record(z.string(), z.unknown()).default({}),
    storage: z
      .custom<StorageProvider>((v) => typeof v === "object" && v !== null && typeof (v as StorageProvider).open === "function", {
        message: "must be a StorageProvider (for example sqliteStorage() from @torpor/storage-sqlite)",
      })
      .optional(),
    hibernateAfterMs: nonNegativeInt.default(10_000),
    maxLiveObjects: positiveInt.default(100_000),
    eventTimeoutMs: positiveInt.nullable().default(null),
    alarmRetry: alarmRetrySchema,
    /**
     * While serving, run a full garbage collection once the process goes idle after a burst of
     * hibernations, socket closes or heap growth, so its memory goes back to the OS (idle-collector.ts).
     */
    idleCollection: z.boolean().default(true),
    limits: limitsSchema,
    server: serverSchema,
    clock: clockSchema,
    logger: loggerSchema,
    installGlobals: z.boolean().default(true),
    /** Cloudflare's compatibility date (YYYY-MM-DD); the flags Torpor honours follow it (docs/compatibility.md). */
    compatibilityDate: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date like 2026-04-07")
      .optional(),
    /** Cloudflare's compatibility flags; ones Torpor does not know are listed in `unknownCompatibilityFlags`. */
    compatibilityFlags: z.array(z.string()).default([]),
    /** Cluster mode: which objects this process hosts and how to reach the others. */
    directory: z
      .custom<HostDirectory>((v) => typeof v === "object" && v !== null && typeof (v as HostDirectory).isLocal === "function", {
        message: "must be a HostDirectory ({ isLocal, fetch, call, read })",
      })
      .optional(),
  })
  .strict();

/** Options of `new Runtime(options)`. */
export type RuntimeOptions = z.input<typeof runtimeOptionsSchema>;
/** Options after defaults are applied. */
export type ResolvedOptions = Omit<z.output<typeof runtimeOptionsSchema>, "logger"> & {
  logger: Logger;
  /** The behaviours chosen by the compatibility date and flags. */
  compatibility: CompatibilityFlags;
  /** Compatibility flags Torpor does not know (they change nothing). */
  unknownCompatibilityFlags: string[];
};

/** Validates options, applying defaults; a bad option throws one precise ERR_INVALID_OPTIONS. */
export function resolveOptions(options: RuntimeOptions): ResolvedOptions {
  const result = runtimeOptionsSchema.safeParse(options);
  if (!result.success) throw optionsError(result.error, "Runtime");
  const { flags, unknown } = resolveCompatibility(result.data.compatibilityDate, result.data.compatibilityFlags);
  return { ...result.data, logger: result.data.logger ?? consoleLogger(), compatibility: flags, unknownCompatibilityFlags: unknown };
}

/** The defaults of the Runtime's numeric settings, from its option schemas (the CLI's `--help` shows them). */
export function runtimeDefaults(): { hibernateAfterMs: number; maxLiveObjects: number; limits: Limits; server: ServerLimits } {
  const shape = runtimeOptionsSchema.shape;
  return {
    hibernateAfterMs: shape.hibernateAfterMs.parse(undefined),
    maxLiveObjects: shape.maxLiveObjects.parse(undefined),
    limits: shape.limits.parse(undefined),
    server: shape.server.parse(undefined),
  };
}
