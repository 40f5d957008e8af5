import { createReadStream, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Logger } from "@torpor/core";
import type { AssetsConfig } from "./assets-config.ts";
import { AssetFiles, type AssetFile } from "./asset-files.ts";
import { applyHeaders, matchRedirect, parseHeaders, parseRedirects, type HeaderRule, type Redirects } from "./asset-rules.ts";
import { resolveIntent } from "./html-handling.ts";

/** Cloudflare's Cache-Control on assets: browsers revalidate every time (with the ETag). */
const CACHE_CONTROL = "public, max-age=0, must-revalidate";

/**
 * Serves a Worker's static assets as Cloudflare's asset worker does:
 * `html_handling` and `not_found_handling`, canonical-path redirects (307),
 * ETags with `If-None-Match` (304), HEAD, 405 for other methods.
 */
export class AssetServer {
  readonly files: AssetFiles;
  readonly config: AssetsConfig;
  readonly #root: string;
  readonly #logger: Logger | undefined;
  readonly #rules = new Map<string, { mtimeMs: number; value: unknown }>();

  constructor(root: string, config: AssetsConfig, logger?: Logger) {
    this.files = new AssetFiles(root);
    this.config = config;
    this.#root = root;
    this.#logger = logger;
  }

  /**
   * The response for `request` with the `_headers` rules applied (they apply to every
   * answer of the assets, never to the Worker's), or null when no asset answers.
   */
  handle(request: Request): Response | null {
    const response = this.#handle(request);
    if (response === null) return null;
    const headers = this.#rule("_headers", (text, warn) => parseHeaders(text, warn));
    if (headers !== undefined) applyHeaders(headers as Array<[never, HeaderRule]>, new URL(request.url), response.headers);
    return response;
  }

  /** A rule file parsed, read again when it changes (a dev server sees edits at once); undefined without it. */
  #rule<T>(name: string, parse: (text: string, warn: (message: string) => void) => T): T | undefined {
    const path = join(this.#root, name);
    let mtimeMs = -1;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {}
    const known = this.#rules.get(name);
    if (known?.mtimeMs === mtimeMs) return known.value as T | undefined;
    const value = mtimeMs < 0 ? undefined : parse(readFileSync(path, "utf8"), (message) => this.#logger?.warn(`${join(this.#root, message)}`));
    this.#rules.set(name, { mtimeMs, value });
    return value;
  }

  /**
   * The response for `request`, or null when no asset answers the path (the
   * Worker runs then). A `not_found_handling` page answers every path no
   * asset does, navigations or not, as workerd's local asset worker does.
   */
  #handle(request: Request): Response | null {
    const url = new URL(request.url);
    const config = this.config;
    // _redirects first: a redirect answers whatever the path; a 200 rule serves another path's asset.
    const redirects = this.#rule("_redirects", (text, warn) => parseRedirects(text, config.html_handling, warn)) as Redirects | undefined;
    const redirect = redirects === undefined ? undefined : matchRedirect(redirects, url);
    let pathname = url.pathname;
    if (redirect !== undefined && redirect.status !== 200) return redirectResponse(redirect, url);
    if (redirect !== undefined) pathname = new URL(redirect.to, url).pathname;
    const proxied = redirect !== undefined;
    const decoded = decodePath(pathname);
    // The files seen while resolving, by ETag: the intent names the asset by its ETag, as Cloudflare's does.
    const seen = new Map<string, AssetFile>();
    const intent = resolveIntent(decoded, config, (p) => {
      const found = this.files.lookup(p);
      if (found !== null) seen.set(found.eTag, found);
      return found?.eTag ?? null;
    });
    // A proxied path with no asset is a 404 from the assets: the Worker does not run.
    if (intent === null) return proxied ? new Response(null, { status: 404 }) : null;
    const method = request.method.toUpperCase();
    if (method !== "GET" && method !== "HEAD") return new Response(null, { status: 405 });
    const destination = encodePath(intent.redirect ?? decoded);
    if (intent.redirect !== undefined || destination !== pathname) {
      return new Response(null, { status: 307, headers: { Location: destination + url.search } });
    }
    const file = seen.get(intent.eTag)!;
    const headers = new Headers({ ETag: `"${file.eTag}"`, "Content-Type": file.contentType });
    if (!request.headers.has("Authorization") && !request.headers.has("Range")) headers.set("Cache-Control", CACHE_CONTROL);
    const ifNoneMatch = request.headers.get("If-None-Match") ?? "";
    if (ifNoneMatch === `"${file.eTag}"` || ifNoneMatch === `W/"${file.eTag}"`) return new Response(null, { status: 304, headers });
    const body = method === "HEAD" ? null : (Readable.toWeb(createReadStream(file.path)) as ReadableStream<Uint8Array>);
    return new Response(body, { status: intent.status, headers });
  }
}

/** A `_redirects` answer: the query of the request is kept unless the destination has its own. */
function redirectResponse(redirect: { status: number; to: string }, url: URL): Response {
  const destination = new URL(redirect.to, url);
  const query = destination.search || url.search;
  const location =
    destination.origin === url.origin
      ? `${destination.pathname}${query}${destination.hash}`
      : `${destination.href.slice(0, destination.href.length - (destination.search.length + destination.hash.length))}${query}${destination.hash}`;
  const status = [301, 303, 307, 308].includes(redirect.status) ? redirect.status : 302;
  return new Response(null, { status, headers: { Location: location } });
}

/**
 * Decodes each segment (a bad escape stays as is) and folds repeated
 * slashes, as the asset worker does before looking a path up.
 */
export function decodePath(pathname: string): string {
  return pathname
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/")
    .replace(/\/+/g, "/");
}

/** The canonical (encoded) form of a decoded path; a request for another spelling is redirected to it. */
export function encodePath(pathname: string): string {
  return pathname
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}
