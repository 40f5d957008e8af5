import { z } from "zod";
import { systemClock, type Clock } from "./clock.ts";
import { TorporError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { CompatibilityFlags } from "./compatibility.ts";

/** Per-object limits. Defaults are Cloudflare's; every one is configurable. */
export interface Limits {
  /** Tags per hibernatable WebSocket (Cloudflare: 10). */
  maxTags: number;
  /** Characters per tag (Cloudflare: 256). */
  maxTagLength: number;
  /** Hibernatable WebSockets per object (Cloudflare: 32,768). */
  maxWebSocketsPerObject: number;
  /** Serialized attachment bytes (Cloudflare: 2,048; up to 16,384 allowed). */
  maxAttachmentBytes: number;
  /** Characters of an auto-response request or response (Cloudflare: 2,048). */
  maxAutoResponseLength: number;
  /** Largest incoming WebSocket message; larger ones close the socket with 1009 (Cloudflare: 32 MiB). */
  maxMessageBytes: number;
  /**
   * Events of one object queued or running before the runtime stops reading
   * the WebSockets that bring it more (inbound backpressure: TCP flow
   * control then slows the senders); reading resumes at half of it.
   */
  maxPendingEvents: number;
}

/** How a failing `alarm()` is retried (Cloudflare: 6 retries, first after 2 s, doubling). */
export interface AlarmRetryOptions {
  maxRetries: number;
  initialBackoffMs: number;
  /** Fraction of random spread added to each delay (0 = none). */
  jitter: number;
}

/**
 * What an object host reads of the runtime's options. The Runtime's full
 * options (`runtime/runtime-options.ts`) add the classes, the Worker, storage
 * and placement; the layers below the runtime see only this.
 */
export interface ObjectOptions {
  readonly hibernateAfterMs: number;
  readonly eventTimeoutMs: number | null;
  readonly alarmRetry: AlarmRetryOptions;
  readonly limits: Limits;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The behaviours the compatibility date and flags chose (e.g. the auto-reply to a peer's Close). */
  readonly compatibility: CompatibilityFlags;
}

/** A whole number above 0 (zod), shared by every option schema (`@torpor/core/storage` exports it for providers and the CLI). */
export const positiveInt = z.number().int().positive();
/** A whole number 0 or above (zod). */
export const nonNegativeInt = z.number().int().nonnegative();

/** @internal the per-object limits with their defaults. */
export const limitsSchema = z
  .object({
    maxTags: nonNegativeInt.default(10),
    maxTagLength: positiveInt.default(256),
    maxWebSocketsPerObject: positiveInt.default(32_768),
    maxAttachmentBytes: positiveInt.max(16_384, "must be at most 16384 (Cloudflare's ceiling)").default(2_048),
    maxAutoResponseLength: positiveInt.default(2_048),
    maxMessageBytes: positiveInt.default(32 * 1024 * 1024),
    // Far above what a healthy object has pending (a few, or one per socket awaiting I/O), and small enough that events stay kilobytes, not megabytes.
    maxPendingEvents: positiveInt.default(1_024),
  })
  .strict()
  .prefault({});

/**
 * Limits of the HTTP/WebSocket server (`runtime.listen()`); what a client
 * sees when it hits each is in docs/api.md.
 */
export interface ServerLimits {
  /** Open TCP connections; a request on one beyond it gets 503 `ERR_TOO_MANY_CONNECTIONS`. */
  maxConnections: number;
  /** Bytes of request line plus headers; over it, 431. */
  maxHeaderBytes: number;
  /** Time for the whole request head to arrive; over it, 408. */
  headersTimeoutMs: number;
  /** Bytes of a request body; over it, 413 (at once when Content-Length says so, else when the streamed body crosses it). */
  maxRequestBodyBytes: number;
  /** Bytes waiting to be sent on one WebSocket; a send beyond it closes the socket with 1013 instead. */
  maxBufferedBytes: number;
  /** Protocol pings to find dead peers; 0 turns them off. */
  pingIntervalMs: number;
  /** How long a closing handshake the server started may take before the connection is dropped. */
  closeTimeoutMs: number;
}

/** @internal the server limits with their defaults. */
export const serverSchema = z
  .object({
    // About 1 GiB of idle sockets; the process's fd limit (ulimit -n) may be lower: set this below it.
    maxConnections: positiveInt.default(100_000),
    // Node's default.
    maxHeaderBytes: positiveInt.default(16 * 1024),
    headersTimeoutMs: positiveInt.default(60_000),
    // Cloudflare's request body limit on the Free and Pro plans.
    maxRequestBodyBytes: positiveInt.default(100 * 1024 * 1024),
    // Bun's default backpressure limit: a reader that stopped costs at most this plus one message; one on a slow link has seconds of broadcast traffic in hand.
    maxBufferedBytes: positiveInt.default(16 * 1024 * 1024),
    pingIntervalMs: nonNegativeInt.default(30_000),
    // ws's default.
    closeTimeoutMs: positiveInt.default(30_000),
  })
  .strict()
  .prefault({});

/** @internal alarm retries with Cloudflare's defaults. */
export const alarmRetrySchema = z
  .object({
    maxRetries: nonNegativeInt.default(6),
    initialBackoffMs: positiveInt.default(2_000),
    jitter: z.number().min(0).max(1).default(0.25),
  })
  .strict()
  .prefault({});

/** @internal an injectable clock, the system's by default. */
export const clockSchema = z
  .custom<Clock>((v) => typeof v === "object" && v !== null && typeof (v as Clock).now === "function" && typeof (v as Clock).setTimeout === "function", {
    message: "must be a Clock ({ now(), setTimeout(fn, ms) })",
  })
  .default(systemClock);

/** @internal a logger (absent: the runtime makes a console logger of its own). */
export const loggerSchema = z
  .custom<Logger>(
    (v) => typeof v === "object" && v !== null && ["debug", "info", "warn", "error"].every((k) => typeof (v as Record<string, unknown>)[k] === "function"),
    {
      message: "must be a Logger with debug/info/warn/error methods",
    },
  )
  .optional();

/** Turns a zod error into one TorporError naming the first offending option. */
export function optionsError(error: z.ZodError, what: string): TorporError {
  const issue = error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.join(".") : "(options)";
  const extra = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem${error.issues.length > 2 ? "s" : ""})` : "";
  return new TorporError("ERR_INVALID_OPTIONS", `Invalid ${what} option "${path}": ${issue.message}${extra}.`);
}
