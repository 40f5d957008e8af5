/**
 * The one table of the server's limits. Each row names a numeric setting
 * once; the command line (`--max-connections`), the config's `torpor`
 * section (`max_connections`), `torpor --help`, the Runtime options that
 * `serve.ts` builds and the testing package's plugin all read it, instead
 * of restating each limit. The defaults are core's (the Runtime's option
 * schemas), shown in the help as they are (help.ts). It imports nothing: a
 * cluster supervisor parses its command line with it.
 */
import type { RuntimeOptions } from "@torpor/core";

/** One limit: its name (camelCase, as in `CliArgs` and `TorporSection`), where the Runtime takes it, its range and its help line. */
export interface LimitRow {
  readonly name: string;
  /** `runtime`: a top-level Runtime option; `limits`: per object (`RuntimeOptions.limits`); `server`: the HTTP/WebSocket server (`RuntimeOptions.server`). */
  readonly group: "runtime" | "limits" | "server";
  /** The smallest value allowed (0 where 0 means "off" or "at once"). */
  readonly min: 0 | 1;
  /** A ceiling and why it is there. */
  readonly max?: { readonly value: number; readonly why: string };
  /** What the value in `--help` is: `ms` or `n`. */
  readonly unit: "ms" | "n";
  /** The help text (wrapped by `limitsHelp`). */
  readonly help: string;
  /** It applies to objects in one process, so `@torpor/testing`'s runtime takes it too (the network limits do not). */
  readonly inProcess: boolean;
}

/** Every limit, in the order `--help` lists them. */
export const LIMITS = [
  { name: "hibernateAfterMs", group: "runtime", min: 0, unit: "ms", help: "idle time before an object hibernates", inProcess: true },
  {
    name: "maxAttachmentBytes",
    group: "limits",
    min: 1,
    max: { value: 16_384, why: "Cloudflare's ceiling" },
    unit: "n",
    help: "serialized WebSocket attachment limit",
    inProcess: true,
  },
  { name: "maxMessageBytes", group: "limits", min: 1, unit: "n", help: "largest incoming WebSocket message", inProcess: true },
  {
    name: "maxLiveObjects",
    group: "runtime",
    min: 1,
    unit: "n",
    help: "live instances kept in memory before the least recently used hibernate",
    inProcess: true,
  },
  { name: "maxConnections", group: "server", min: 1, unit: "n", help: "open TCP connections; more get 503", inProcess: false },
  { name: "maxHeaderBytes", group: "server", min: 1, unit: "n", help: "request line and headers; more get 431", inProcess: false },
  { name: "headersTimeoutMs", group: "server", min: 1, unit: "ms", help: "time for the request headers to arrive; then 408", inProcess: false },
  { name: "maxRequestBodyBytes", group: "server", min: 1, unit: "n", help: "request body; more gets 413", inProcess: false },
  {
    name: "maxBufferedBytes",
    group: "server",
    min: 1,
    unit: "n",
    help: "bytes waiting to be sent on one WebSocket; a peer that falls further behind is closed with 1013",
    inProcess: false,
  },
  { name: "pingIntervalMs", group: "server", min: 0, unit: "ms", help: "WebSocket pings to find dead peers; 0 turns them off", inProcess: false },
  {
    name: "closeTimeoutMs",
    group: "server",
    min: 1,
    unit: "ms",
    help: "time a peer has to answer the server's Close frame; then the connection is dropped",
    inProcess: false,
  },
] as const satisfies readonly LimitRow[];

/** The name of a limit. */
export type LimitName = (typeof LIMITS)[number]["name"];
/** A value for each limit, or undefined where it is not set. */
export type LimitValues = { [K in LimitName]?: number | undefined };
/** The limits that apply in one process (what `@torpor/testing` passes on). */
export type InProcessLimitName = Extract<(typeof LIMITS)[number], { inProcess: true }>["name"];

/** The command-line flag of a limit, without dashes: `maxConnections` → `max-connections`. */
export function flagOf(row: LimitRow): string {
  return row.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The key of a limit in the config's `torpor` section: `maxConnections` → `max_connections`. */
export function configKeyOf(row: LimitRow): string {
  return row.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Each limit from `first`, else from `second` (flags over the config). */
export function mergeLimits(first: LimitValues, second: LimitValues): LimitValues {
  const out: LimitValues = {};
  for (const row of LIMITS) out[row.name] = first[row.name] ?? second[row.name];
  return out;
}

/** The Runtime options that carry `values` (unset ones left to the Runtime's defaults). */
export function runtimeLimits(values: LimitValues): Pick<RuntimeOptions, "hibernateAfterMs" | "maxLiveObjects" | "limits" | "server"> {
  const top: Record<string, number | undefined> = {};
  const limits: Record<string, number | undefined> = {};
  const server: Record<string, number | undefined> = {};
  for (const row of LIMITS) {
    const value = values[row.name];
    if (value === undefined) continue;
    (row.group === "runtime" ? top : row.group === "limits" ? limits : server)[row.name] = value;
  }
  return { ...top, limits, server };
}

/** The limits that apply in one process, each given or undefined. */
export type InProcessLimits = { [K in InProcessLimitName]: number | undefined };

/** The limits that apply in one process, from `values` (what `@torpor/testing`'s runtime takes). */
export function inProcessLimits(values: LimitValues): InProcessLimits {
  const out: Record<string, number | undefined> = {};
  for (const row of LIMITS) if (row.inProcess) out[row.name] = values[row.name];
  return out as InProcessLimits;
}
