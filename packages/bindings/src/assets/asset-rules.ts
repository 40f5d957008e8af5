/**
 * The `_redirects` and `_headers` files of an assets directory, read as wrangler reads
 * them (workers-sdk, packages/workers-shared/utils/configuration/parse{Redirects,Headers}.ts)
 * and matched as Cloudflare's asset worker matches them (asset-worker/src/utils/rules-engine.ts):
 * a rule's path may hold one `*` (the `:splat`) and `:name` placeholders, or be an
 * `https://host/path` URL matched against the request's host too. A line that breaks a
 * rule is skipped with a warning, as wrangler does.
 */

const MAX_LINE_LENGTH = 2_000;
const MAX_HEADER_RULES = 100;
const MAX_STATIC_REDIRECTS = 2_000;
const MAX_DYNAMIC_REDIRECTS = 100;
const REDIRECT_STATUSES = new Set([200, 301, 302, 303, 307, 308]);
const SPLAT = /\*/g;
const PLACEHOLDER = /:[A-Za-z]\w*/g;

/** A path (or `https://host/path`) pattern compiled to a regular expression whose groups are the placeholders. */
interface Pattern {
  crossHost: boolean;
  regExp: RegExp;
}

/** One `_redirects` rule. */
export interface RedirectRule {
  status: number;
  to: string;
  lineNumber: number;
}

/** The parsed `_redirects`: exact paths first (until the first pattern), then patterns in file order. */
export interface Redirects {
  staticRules: Map<string, RedirectRule>;
  rules: Array<[Pattern, RedirectRule]>;
}

/** One `_headers` rule: headers to set (values may use the path's placeholders) and to remove. */
export interface HeaderRule {
  set: Record<string, string>;
  unset: string[];
}

function pathOf(path: string, search: boolean, hash: boolean): string {
  const url = new URL(`//${path.startsWith("/") ? path : `/${path}`}`, "relative://");
  return `${url.pathname}${search ? url.search : ""}${hash ? url.hash : ""}`;
}

/** wrangler's validateUrl: the normalized URL, or the reason it is not one. */
function validateUrl(token: string, onlyRelative: boolean, noPorts: boolean, search = false, hash = false): [string, undefined] | [undefined, string] {
  const host = /^https:\/\/+(?<host>[^/]+)\/?(?<path>.*)/.exec(token);
  if (host?.groups?.host) {
    if (onlyRelative) return [undefined, `Only relative URLs are allowed. Skipping absolute URL ${token}.`];
    if (noPorts && /.*:\d+$/.test(host.groups.host)) return [undefined, `Specifying ports is not supported. Skipping absolute URL ${token}.`];
    return [`https://${host.groups.host}${pathOf(host.groups.path ?? "", search, hash)}`, undefined];
  }
  const path = !token.startsWith("/") && onlyRelative ? `/${token}` : token;
  if (path.startsWith("/")) {
    try {
      return [pathOf(path, search, hash), undefined];
    } catch {
      return [undefined, `Error parsing URL segment ${path}. Skipping.`];
    }
  }
  return [
    undefined,
    onlyRelative
      ? "URLs should begin with a forward-slash."
      : 'URLs should either be relative (e.g. begin with a forward-slash), or use HTTPS (e.g. begin with "https://").',
  ];
}

const hasHost = (token: string) => /^https:\/\/+[^/]+/.test(token);

function compile(rule: string): Pattern | undefined {
  const escapeRegExp = (s: string) => s.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&");
  let source = rule.split("*").map(escapeRegExp).join("(?<splat>.*)");
  for (const match of source.matchAll(/(?<=^https:\\\/\\\/[^/]*?):([A-Za-z]\w*)(?=\\)/g)) source = source.split(match[0]).join(`(?<${match[1]}>[^/.]+)`);
  for (const match of source.matchAll(/:([A-Za-z]\w*)/g)) source = source.split(match[0]).join(`(?<${match[1]}>[^/]+)`);
  try {
    return { crossHost: rule.startsWith("https://"), regExp: new RegExp(`^${source}$`) };
  } catch {
    return undefined;
  }
}

function matches(pattern: Pattern, url: URL): Record<string, string> | undefined {
  const found = pattern.regExp.exec(pattern.crossHost ? `https://${url.hostname}${url.pathname}` : url.pathname);
  return found === null ? undefined : { ...found.groups };
}

/** Puts the matched placeholders (`:splat`, `:name`) into a rule's text. */
function replace(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(values)) out = out.replaceAll(`:${name}`, value);
  return out;
}

/** Reads `_redirects`; `warn` gets one message per skipped line. */
export function parseRedirects(text: string, htmlHandling: string, warn: (message: string) => void): Redirects {
  const out: Redirects = { staticRules: new Map(), rules: [] };
  const seen = new Set<string>();
  let statics = 0;
  let dynamics = 0;
  let staticAllowed = true;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    const lineNumber = i + 1;
    const skip = (message: string) => warn(`_redirects:${lineNumber}: ${message} (${line})`);
    if (line.length === 0 || line.startsWith("#")) continue;
    if (line.length > MAX_LINE_LENGTH) {
      warn(`_redirects:${lineNumber}: Ignoring line ${lineNumber} as it exceeds the maximum allowed length of ${MAX_LINE_LENGTH}.`);
      continue;
    }
    const tokens = line.replace(/\s+#.*$/, "").split(/\s+/);
    if (tokens.length < 2 || tokens.length > 3) {
      skip(`Expected exactly 2 or 3 whitespace-separated tokens. Got ${tokens.length}.`);
      continue;
    }
    const [rawFrom, rawTo, rawStatus = "302"] = tokens as [string, string, string?];
    const [from, fromError] = validateUrl(rawFrom, true, true);
    if (from === undefined) {
      skip(fromError!);
      continue;
    }
    const dynamic = SPLAT.test(from) || new RegExp(PLACEHOLDER.source).test(from);
    SPLAT.lastIndex = 0;
    if (staticAllowed && !dynamic) {
      if (++statics > MAX_STATIC_REDIRECTS) {
        warn(`_redirects:${lineNumber}: Maximum number of static rules supported is ${MAX_STATIC_REDIRECTS}. Skipping line.`);
        continue;
      }
    } else {
      staticAllowed = false;
      if (++dynamics > MAX_DYNAMIC_REDIRECTS) {
        warn(
          `_redirects:${lineNumber}: Maximum number of dynamic rules supported is ${MAX_DYNAMIC_REDIRECTS}. Skipping remaining ${lines.length - i} lines of file.`,
        );
        break;
      }
    }
    const [to, toError] = validateUrl(rawTo, false, false, true, true);
    if (to === undefined) {
      skip(toError!);
      continue;
    }
    const status = Number(rawStatus);
    if (Number.isNaN(status) || !REDIRECT_STATUSES.has(status)) {
      skip(`Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got ${rawStatus}.`);
      continue;
    }
    const relative = !hasHost(to);
    const loopsToIndex = (from.endsWith("/*") && /\/index(.html)?$/.test(to)) || (from.endsWith("/") && /\/index(.html)?$/.test(to) && htmlHandling !== "none");
    if (relative && loopsToIndex) {
      skip(
        "Infinite loop detected in this rule and has been ignored. This will cause a redirect to strip `.html` or `/index` and end up triggering this rule again. Please fix or remove this rule to silence this warning.",
      );
      continue;
    }
    if (seen.has(from)) {
      skip(`Ignoring duplicate rule for path ${from}.`);
      continue;
    }
    seen.add(from);
    if (status === 200 && !relative) {
      skip(`Proxy (200) redirects can only point to relative paths. Got ${to}`);
      continue;
    }
    const rule = { status, to, lineNumber };
    // wrangler keeps exact paths apart only until the first pattern; later exact paths are matched in order with the patterns.
    if (!dynamic && out.rules.length === 0) out.staticRules.set(from, rule);
    else {
      const pattern = compile(from);
      if (pattern !== undefined) out.rules.push([pattern, rule]);
    }
  }
  return out;
}

/** The redirect rule for a request, its placeholders filled in (an exact path first, as the asset worker looks). */
export function matchRedirect(redirects: Redirects, url: URL): { status: number; to: string } | undefined {
  const withHost = redirects.staticRules.get(`https://${url.host}${url.pathname}`);
  const withoutHost = redirects.staticRules.get(url.pathname);
  const exact =
    withHost !== undefined && withoutHost !== undefined ? (withHost.lineNumber < withoutHost.lineNumber ? withHost : withoutHost) : (withHost ?? withoutHost);
  if (exact !== undefined) return exact;
  for (const [pattern, rule] of redirects.rules) {
    const values = matches(pattern, url);
    if (values === undefined) continue;
    const target = replace(rule.to, values).trim();
    return { status: rule.status, to: /^(\w+:\/\/)/.test(target) ? target : target.replace(/\/+/g, "/") };
  }
  return undefined;
}

/** Reads `_headers`; `warn` gets one message per skipped line. */
export function parseHeaders(text: string, warn: (message: string) => void): Array<[Pattern, HeaderRule]> {
  const out: Array<[Pattern, HeaderRule]> = [];
  let rule: { path: string; set: Record<string, string>; unset: string[]; lineNumber: number } | undefined;
  let skipping = false;
  let count = 0;
  const finish = () => {
    if (rule === undefined) return;
    if (Object.keys(rule.set).length === 0 && rule.unset.length === 0) warn(`_headers:${rule.lineNumber}: No headers specified (${rule.path})`);
    else {
      const pattern = compile(rule.path);
      if (pattern !== undefined) out.push([pattern, { set: rule.set, unset: rule.unset }]);
    }
  };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    const lineNumber = i + 1;
    const skip = (message: string) => warn(`_headers:${lineNumber}: ${message} (${line})`);
    if (line.length === 0 || line.startsWith("#")) continue;
    if (line.length > MAX_LINE_LENGTH) {
      warn(`_headers:${lineNumber}: Ignoring line ${lineNumber} as it exceeds the maximum allowed length of ${MAX_LINE_LENGTH}.`);
      continue;
    }
    if (/^([^\s]+:\/\/|^\/)/.test(line)) {
      skipping = false;
      if (count >= MAX_HEADER_RULES) {
        warn(`_headers:${lineNumber}: Maximum number of rules supported is ${MAX_HEADER_RULES}. Skipping remaining ${lines.length - i} lines of file.`);
        rule = undefined;
        break;
      }
      finish();
      rule = undefined;
      const [path, error] = validateUrl(line, false, true);
      const wildcards = path === undefined ? 0 : (path.match(SPLAT) ?? []).length;
      const problem =
        error ??
        (wildcards > 1
          ? `Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) instead. Skipping ${path}.`
          : wildcards > 0 && /:splat(?!\w)/.test(path!)
            ? `Cannot combine a wildcard * with a :splat placeholder because wildcards are converted to :splat at runtime. Skipping ${path}.`
            : undefined);
      if (problem !== undefined) {
        skip(problem);
        skipping = true;
        continue;
      }
      count++;
      rule = { path: path!, set: {}, unset: [], lineNumber };
      continue;
    }
    if (skipping) continue;
    if (!line.includes(":")) {
      if (rule === undefined) skip("Expected a path beginning with at least one forward-slash");
      else if (line.startsWith("! ")) rule.unset.push(line.slice(2));
      else skip("Expected a colon-separated header pair (e.g. name: value)");
      continue;
    }
    const [rawName, ...rawValue] = line.split(":");
    const name = (rawName ?? "").trim().toLowerCase();
    const value = rawValue.join(":").trim();
    if (name.includes(" ")) skip("Header name cannot include spaces");
    else if (name === "") skip("No header name specified");
    else if (value === "") skip("No header value specified");
    else if (rule === undefined) skip(`Path should come before header (${name}: ${value})`);
    else rule.set[name] = rule.set[name] === undefined ? value : `${rule.set[name]}, ${value}`;
  }
  finish();
  return out;
}

/** Applies every matching `_headers` rule to an asset worker response, in file order (a name set twice is appended). */
export function applyHeaders(rules: Array<[Pattern, HeaderRule]>, url: URL, headers: Headers): void {
  const set = new Set<string>();
  for (const [pattern, rule] of rules) {
    const values = matches(pattern, url);
    if (values === undefined) continue;
    for (const name of rule.unset) headers.delete(name);
    for (const [name, value] of Object.entries(rule.set)) {
      const filled = replace(value, values);
      if (set.has(name.toLowerCase())) headers.append(name, filled);
      else {
        headers.set(name, filled);
        set.add(name.toLowerCase());
      }
    }
  }
}
