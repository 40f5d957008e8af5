import { describe, expect, it } from "vitest";
import { applyHeaders, matchRedirect, parseHeaders, parseRedirects } from "./asset-rules.ts";

describe("_redirects", () => {
  it("skips the lines wrangler skips, one warning each, and keeps the rest", () => {
    const warnings: string[] = [];
    const redirects = parseRedirects(
      ["/a /b", "/a /c", "/only-one", "/x /y 299", "/p https://e.com/q 200", "/loop/* /loop/index.html", "https://h.com/a /b", "/ok /fine 308 # comment"].join(
        "\n",
      ),
      "auto-trailing-slash",
      (m) => warnings.push(m),
    );
    expect(warnings).toEqual([
      "_redirects:2: Ignoring duplicate rule for path /a. (/a /c)",
      "_redirects:3: Expected exactly 2 or 3 whitespace-separated tokens. Got 1. (/only-one)",
      "_redirects:4: Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got 299. (/x /y 299)",
      "_redirects:5: Proxy (200) redirects can only point to relative paths. Got https://e.com/q (/p https://e.com/q 200)",
      "_redirects:6: Infinite loop detected in this rule and has been ignored. This will cause a redirect to strip `.html` or `/index` and end up triggering this rule again. Please fix or remove this rule to silence this warning. (/loop/* /loop/index.html)",
      "_redirects:7: Only relative URLs are allowed. Skipping absolute URL https://h.com/a. (https://h.com/a /b)",
    ]);
    expect(matchRedirect(redirects, new URL("http://h/a"))).toEqual({ status: 302, to: "/b", lineNumber: 1 });
    expect(matchRedirect(redirects, new URL("http://h/ok"))).toEqual({ status: 308, to: "/fine", lineNumber: 8 });
    expect(matchRedirect(redirects, new URL("http://h/none"))).toBeUndefined();
  });

  it("fills placeholders and the splat, first matching pattern wins", () => {
    const redirects = parseRedirects("/u/:id/* /users/:id?rest=:splat 301\n/u/* /other", "none", () => {});
    expect(matchRedirect(redirects, new URL("http://h/u/7/a/b"))).toEqual({ status: 301, to: "/users/7?rest=a/b" });
    expect(matchRedirect(redirects, new URL("http://h/u/x"))).toEqual({ status: 302, to: "/other" });
  });
});

describe("_headers", () => {
  it("sets, appends and removes in file order, with placeholders", () => {
    const warnings: string[] = [];
    const rules = parseHeaders(
      ["X-Orphan: 1", "/*", "  X-A: all", "  ! X-Gone", "/files/:name", "  X-A: :name", "  X-B: one", "  X-B: two", "/empty", "/bad path", "  X-C: c"].join(
        "\n",
      ),
      (m) => warnings.push(m),
    );
    expect(warnings).toEqual(["_headers:1: Path should come before header (x-orphan: 1) (X-Orphan: 1)", "_headers:9: No headers specified (/empty)"]);
    const headers = new Headers({ "x-gone": "1", "x-keep": "1" });
    applyHeaders(rules, new URL("http://h/files/report"), headers);
    expect([...headers]).toEqual([
      ["x-a", "all, report"],
      ["x-b", "one, two"],
      ["x-keep", "1"],
    ]);
  });
});
