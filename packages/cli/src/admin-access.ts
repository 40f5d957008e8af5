import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { TorporError } from "@torpor/core/errors";

/** The header that lets a token-less (loopback) client make a state-changing request. */
export const ADMIN_HEADER = "x-torpor-admin";

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** The admin token: `--admin-token`, else `$TORPOR_ADMIN_TOKEN` (an empty one counts as unset), else none. */
export function adminToken(args: { adminToken?: string | undefined }): string | null {
  return args.adminToken ?? (process.env.TORPOR_ADMIN_TOKEN || null);
}

/**
 * Refuses an admin endpoint reachable from other machines without a token:
 * it lists every object and can force hibernation.
 */
export function checkAdminExposure(host: string, token: string | null): void {
  if (token === null && !isLoopback(host)) {
    throw new TorporError(
      "ERR_ADMIN_TOKEN_REQUIRED",
      `The admin endpoint would listen on ${host}, reachable from other machines, without a token. Set TORPOR_ADMIN_TOKEN (or pass --admin-token), or bind it to 127.0.0.1 with --admin-ip.`,
    );
  }
}

/** Why a request is refused: status, stable code, message, extra headers. */
export interface Refusal {
  status: 400 | 401 | 403;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

/**
 * Who may use the admin endpoint:
 * - the Host header must name the address it is bound to (or, on loopback,
 *   localhost), so a web page cannot reach it by DNS rebinding: the browser
 *   would send the attacker's host name. Wildcard binds (0.0.0.0) skip this:
 *   they always have a token, which the attacker's page does not know;
 * - with a token, every request carries `Authorization: Bearer <token>`;
 * - without one (loopback only), state-changing requests carry the
 *   `X-Torpor-Admin` header: a cross-site form cannot set a header, and a
 *   cross-site fetch that does is stopped by CORS preflight (never answered).
 */
export function adminAccess(host: string, port: number, token: string | null): (req: IncomingMessage, options?: { assets?: boolean }) => Refusal | null {
  const hosts = allowedHosts(host, port);
  const expected = token === null ? null : digest(token);
  // `assets`: the dashboard's page, script and style hold no data; a browser cannot send the
  // token on a navigation, so they need only the Host check (the page then sends the token).
  return (req, options) => {
    const hostHeader = (req.headers.host ?? "").toLowerCase();
    if (hosts !== null && !hosts.has(hostHeader)) {
      return {
        status: 403,
        code: "ERR_ADMIN_HOST",
        message: `Host ${JSON.stringify(req.headers.host ?? null)} is not this admin endpoint's address (${[...hosts].join(", ")}); requests through another name are refused to stop DNS rebinding.`,
      };
    }
    if (options?.assets === true) return null;
    if (expected !== null) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
      if (match === null || !timingSafeEqual(digest(match[1]!), expected)) {
        return {
          status: 401,
          code: "ERR_ADMIN_UNAUTHORIZED",
          message: "The admin endpoint needs `Authorization: Bearer <token>` with the token it was started with.",
          headers: { "www-authenticate": 'Bearer realm="torpor-admin"' },
        };
      }
    } else if (req.method !== "GET" && req.method !== "HEAD" && req.headers[ADMIN_HEADER] === undefined) {
      return {
        status: 403,
        code: "ERR_ADMIN_HEADER_REQUIRED",
        message: `A ${req.method} to the admin endpoint needs the header \`X-Torpor-Admin: 1\` (or a token), so that a cross-site form cannot send it.`,
      };
    }
    return null;
  };
}

function allowedHosts(host: string, port: number): Set<string> | null {
  if (isWildcard(host)) return null;
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  const names = new Set([isIP(bare) === 6 ? `[${bare}]:${port}` : `${bare}:${port}`]);
  if (isLoopback(bare)) for (const alias of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) names.add(alias);
  return names;
}

// Equal-length digests, so timingSafeEqual can compare tokens of any length.
function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
