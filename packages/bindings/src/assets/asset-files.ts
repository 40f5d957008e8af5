import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import ignore from "ignore";
import mime from "mime";

/** What wrangler never uploads from the assets directory: the rule files and the ignore file. */
const RULE_FILES = new Set(["/_headers", "/_redirects", "/.assetsignore"]);

/** One asset on disk: its ETag (a content hash) and its content type. */
export interface AssetFile {
  path: string;
  eTag: string;
  contentType: string;
}

/**
 * The files of an assets directory, looked up by URL path (`/a/b.html`).
 * Read from disk on each lookup (a dev server sees edits at once), with each
 * file's hash kept while its size and mtime stay the same. A path never
 * leaves the directory.
 */
export class AssetFiles {
  readonly #root: string;
  readonly #hashes = new Map<string, { size: number; mtimeMs: number; eTag: string }>();
  #ignored: { mtimeMs: number; test: (path: string) => boolean } | undefined;

  constructor(root: string) {
    this.#root = root;
  }

  /** The asset at a decoded URL path, or null (also for files `.assetsignore` names, which wrangler never uploads). */
  lookup(pathname: string): AssetFile | null {
    if (RULE_FILES.has(pathname) || !pathname.startsWith("/")) return null;
    const segments = pathname.slice(1).split("/");
    if (this.#isIgnored(segments.join("/"))) return null;
    // Dot segments and separators inside a segment (from %2F or %5C) would leave the directory.
    if (segments.some((s) => s === "." || s === ".." || s.includes("\\") || s.includes("\0"))) return null;
    const path = join(this.#root, ...segments);
    if (path !== this.#root && !path.startsWith(this.#root + sep)) return null;
    let stat: import("node:fs").Stats;
    try {
      stat = statSync(path);
    } catch {
      return null;
    }
    if (!stat.isFile()) return null;
    return { path, eTag: this.#eTag(path, stat.size, stat.mtimeMs), contentType: contentType(path) };
  }

  /** `.assetsignore` (gitignore syntax, the `ignore` package wrangler uses), read again when it changes. */
  #isIgnored(relative: string): boolean {
    const file = join(this.#root, ".assetsignore");
    let mtimeMs = -1;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {}
    if (this.#ignored?.mtimeMs !== mtimeMs) {
      const patterns = mtimeMs < 0 ? [] : readFileSync(file, "utf8").split("\n");
      const matcher = ignore().add(patterns);
      this.#ignored = { mtimeMs, test: (path) => patterns.length > 0 && matcher.test(path).ignored };
    }
    try {
      return this.#ignored.test(relative);
    } catch {
      // A path ignore() refuses (absolute, "..") is never served anyway.
      return true;
    }
  }

  #eTag(path: string, size: number, mtimeMs: number): string {
    const known = this.#hashes.get(path);
    if (known !== undefined && known.size === size && known.mtimeMs === mtimeMs) return known.eTag;
    // 32 hex characters like Cloudflare's (which hashes with BLAKE3; the value is opaque either way).
    const eTag = createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 32);
    this.#hashes.set(path, { size, mtimeMs, eTag });
    return eTag;
  }
}

/** The Content-Type Cloudflare's asset worker sends: the `mime` package's type, text types with UTF-8. */
export function contentType(path: string): string {
  const type = mime.getType(path) ?? "application/octet-stream";
  return type.startsWith("text/") && !type.includes("charset") ? `${type}; charset=utf-8` : type;
}
