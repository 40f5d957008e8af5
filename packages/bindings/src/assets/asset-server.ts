import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { AssetsConfig } from "./assets-config.ts";
import { AssetFiles, type AssetFile } from "./asset-files.ts";
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

  constructor(root: string, config: AssetsConfig) {
    this.files = new AssetFiles(root);
    this.config = config;
  }

  /**
   * The response for `request`, or null when no asset answers the path (the
   * Worker runs then). A `not_found_handling` page answers every path no
   * asset does, navigations or not, as workerd's local asset worker does.
   */
  handle(request: Request): Response | null {
    const url = new URL(request.url);
    const config = this.config;
    const decoded = decodePath(url.pathname);
    // The files seen while resolving, by ETag: the intent names the asset by its ETag, as Cloudflare's does.
    const seen = new Map<string, AssetFile>();
    const intent = resolveIntent(decoded, config, (p) => {
      const found = this.files.lookup(p);
      if (found !== null) seen.set(found.eTag, found);
      return found?.eTag ?? null;
    });
    if (intent === null) return null;
    const method = request.method.toUpperCase();
    if (method !== "GET" && method !== "HEAD") return new Response(null, { status: 405 });
    const destination = encodePath(intent.redirect ?? decoded);
    if (intent.redirect !== undefined || destination !== url.pathname) {
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
