/**
 * Which asset a path names, as Cloudflare's asset worker decides it
 * (workers-sdk, packages/workers-shared/asset-worker/src/handler.ts): the
 * four `html_handling` modes, then `not_found_handling`. Paths here are
 * decoded URL paths.
 */

/** Serve this asset (200, or 404 for a 404 page), or redirect (307) to a canonical path. */
export type Intent = { eTag: string; status: 200 | 404; redirect?: undefined } | { redirect: string; eTag?: undefined } | null;

/** The `exists` of the asset worker: a path's ETag, or null. */
export type ETagOf = (pathname: string) => string | null;

/** The modes of `assets.html_handling` and `assets.not_found_handling`. */
export interface HtmlHandling {
  html_handling: "auto-trailing-slash" | "force-trailing-slash" | "drop-trailing-slash" | "none";
  not_found_handling: "none" | "404-page" | "single-page-application";
}

/** Resolves a decoded path to what to serve. `noRedirects` is the asset worker's `skipRedirects`. */
export function resolveIntent(pathname: string, config: HtmlHandling, eTagOf: ETagOf, noRedirects = false): Intent {
  const c = new Context(config, eTagOf, noRedirects);
  switch (config.html_handling) {
    case "auto-trailing-slash":
      return c.autoTrailingSlash(pathname);
    case "force-trailing-slash":
      return c.forceTrailingSlash(pathname);
    case "drop-trailing-slash":
      return c.dropTrailingSlash(pathname);
    case "none":
      return c.serve(eTagOf(pathname)) ?? c.notFound(pathname);
  }
}

class Context {
  constructor(
    readonly config: HtmlHandling,
    readonly eTagOf: ETagOf,
    readonly noRedirects: boolean,
  ) {}

  serve(eTag: string | null, status: 200 | 404 = 200): Intent {
    return eTag === null ? null : { eTag, status };
  }

  /**
   * Redirect to `destination` when `file` is what `destination` would serve
   * (and `destination` is not an asset itself), so a redirect never lands
   * on something else or on a 404.
   */
  redirect(file: string, destination: string): Intent {
    if (this.noRedirects || this.eTagOf(destination) !== null) return null;
    const there = resolveIntent(destination, this.config, this.eTagOf, true);
    return there?.eTag !== undefined && there.eTag === this.eTagOf(file) ? { redirect: destination } : null;
  }

  autoTrailingSlash(p: string): Intent {
    const exact = this.eTagOf(p);
    let found: Intent = null;
    if (p.endsWith("/index")) {
      if (exact !== null) return this.serve(exact);
      found = this.redirect(`${p}.html`, p.slice(0, -"index".length)) ?? this.redirect(`${p.slice(0, -"/index".length)}.html`, p.slice(0, -"/index".length));
    } else if (p.endsWith("/index.html")) {
      found =
        this.redirect(p, p.slice(0, -"index.html".length)) ?? this.redirect(`${p.slice(0, -"/index.html".length)}.html`, p.slice(0, -"/index.html".length));
    } else if (p.endsWith("/")) {
      found = this.serve(this.eTagOf(`${p}index.html`)) ?? this.redirect(`${p.slice(0, -1)}.html`, p.slice(0, -1));
    } else if (p.endsWith(".html")) {
      const bare = p.slice(0, -".html".length);
      found = this.redirect(p, bare) ?? this.redirect(`${bare}/index.html`, `${bare}/`);
    }
    return found ?? this.serve(exact) ?? this.serve(this.eTagOf(`${p}.html`)) ?? this.redirect(`${p}/index.html`, `${p}/`) ?? this.notFound(p);
  }

  forceTrailingSlash(p: string): Intent {
    const exact = this.eTagOf(p);
    let found: Intent = null;
    if (p.endsWith("/index")) {
      if (exact !== null) return this.serve(exact);
      const dir = p.slice(0, -"index".length);
      found = this.redirect(`${p}.html`, dir) ?? this.redirect(`${p.slice(0, -"/index".length)}.html`, dir);
    } else if (p.endsWith("/index.html")) {
      const dir = p.slice(0, -"index.html".length);
      found = this.redirect(p, dir) ?? this.redirect(`${p.slice(0, -"/index.html".length)}.html`, dir);
    } else if (p.endsWith("/")) {
      found = this.serve(this.eTagOf(`${p}index.html`)) ?? this.serve(this.eTagOf(`${p.slice(0, -1)}.html`));
    } else if (p.endsWith(".html")) {
      const bare = p.slice(0, -".html".length);
      found = this.redirect(p, `${bare}/`) ?? this.serve(exact) ?? this.redirect(`${bare}/index.html`, `${bare}/`);
    }
    return found ?? this.serve(exact) ?? this.redirect(`${p}.html`, `${p}/`) ?? this.redirect(`${p}/index.html`, `${p}/`) ?? this.notFound(p);
  }

  dropTrailingSlash(p: string): Intent {
    const exact = this.eTagOf(p);
    let found: Intent = null;
    if (p.endsWith("/index")) {
      if (exact !== null) return this.serve(exact);
      const parent = p.slice(0, -"/index".length);
      found = p === "/index" ? this.redirect("/index.html", "/") : (this.redirect(`${parent}.html`, parent) ?? this.redirect(`${p}.html`, parent));
    } else if (p.endsWith("/index.html")) {
      const parent = p.slice(0, -"/index.html".length);
      found =
        p === "/index.html" ? this.redirect("/index.html", "/") : (this.redirect(p, parent) ?? this.serve(exact) ?? this.redirect(`${parent}.html`, parent));
    } else if (p.endsWith("/")) {
      const parent = p.slice(0, -1);
      found = p === "/" ? this.serve(this.eTagOf("/index.html")) : (this.redirect(`${parent}.html`, parent) ?? this.redirect(`${parent}/index.html`, parent));
    } else if (p.endsWith(".html")) {
      const bare = p.slice(0, -".html".length);
      found = this.redirect(p, bare) ?? this.redirect(`${bare}/index.html`, bare);
    }
    return found ?? this.serve(exact) ?? this.serve(this.eTagOf(`${p}.html`)) ?? this.serve(this.eTagOf(`${p}/index.html`)) ?? this.notFound(p);
  }

  notFound(p: string): Intent {
    if (this.config.not_found_handling === "single-page-application") return this.serve(this.eTagOf("/index.html"));
    if (this.config.not_found_handling === "404-page") {
      // The nearest 404.html up the tree, served with status 404.
      for (let dir = p.slice(0, p.lastIndexOf("/")); ; dir = dir.slice(0, dir.lastIndexOf("/"))) {
        const page = this.serve(this.eTagOf(`${dir}/404.html`), 404);
        if (page !== null || dir === "") return page;
      }
    }
    return null;
  }
}
