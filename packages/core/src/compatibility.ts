/**
 * Cloudflare's compatibility dates and flags, for the behaviours Torpor
 * provides. Each honoured flag is on from its date (workerd's
 * src/workerd/io/compatibility-date.capnp) or when named, and off when its
 * disable flag is named. Flags whose behaviour Torpor always has are accepted
 * quietly; any other flag is reported as unknown (the CLI warns once).
 */

/** The behaviours the compatibility date and flags choose between, resolved. */
export interface CompatibilityFlags {
  /** `web_socket_auto_reply_to_close` (2026-04-07): the runtime answers a peer's Close on a standard socket. */
  webSocketAutoReplyToClose: boolean;
}

interface FlagRule {
  readonly key: keyof CompatibilityFlags;
  readonly enable: string;
  readonly disable: string;
  readonly date: string;
}

/** The flags Torpor honours: name, its opposite, and the date it turns on by default. */
export const HONOURED_FLAGS: readonly FlagRule[] = [
  { key: "webSocketAutoReplyToClose", enable: "web_socket_auto_reply_to_close", disable: "web_socket_manual_reply_to_close", date: "2026-04-07" },
];

/**
 * Flags that need nothing from Torpor: their behaviour is Torpor's only one
 * (Node's built-ins are always importable; RPC, `ctx.exports`, alarms and the
 * full-URL rule for a stub's fetch are always on).
 */
export const ALWAYS_ON_FLAGS: ReadonlySet<string> = new Set([
  "nodejs_compat",
  "nodejs_compat_v2",
  "nodejs_als",
  "rpc",
  "js_rpc",
  "durable_object_alarms",
  "durable_object_fetch_requires_full_url",
  "enable_ctx_exports",
  "websocket_close_reason_byte_limit",
]);

/** The date Torpor assumes when none is given: every honoured flag at its current default. */
export const DEFAULT_COMPATIBILITY_DATE = "2026-04-07";

/** The flags in effect for a date and a list of flags, and the flags Torpor does not know. */
export function resolveCompatibility(
  date: string = DEFAULT_COMPATIBILITY_DATE,
  flags: readonly string[] = [],
): { flags: CompatibilityFlags; unknown: string[] } {
  const named = new Set(flags);
  const out = {} as CompatibilityFlags;
  const known = new Set(ALWAYS_ON_FLAGS);
  for (const rule of HONOURED_FLAGS) {
    known.add(rule.enable);
    known.add(rule.disable);
    out[rule.key] = named.has(rule.disable) ? false : named.has(rule.enable) || date >= rule.date;
  }
  return { flags: out, unknown: flags.filter((f) => !known.has(f)) };
}

/** The compatibility in effect when nothing is configured. */
export const DEFAULT_COMPATIBILITY: CompatibilityFlags = resolveCompatibility().flags;
