import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assetsSchema } from "./assets-config.ts";
import { AssetServer } from "./asset-server.ts";
import { workerFirst } from "./run-worker-first.ts";

// Real files; the default mode (auto-trailing-slash) and 404 pages are checked against workerd in compat/test/assets.test.ts.
const root = mkdtempSync(join(tmpdir(), "torpor-assets-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, "docs"));
writeFileSync(join(root, "index.html"), "home");
writeFileSync(join(root, "about.html"), "about");
writeFileSync(join(root, "docs", "index.html"), "docs");
writeFileSync(join(root, "_headers"), "/*\n  X: y");

function server(config: Record<string, unknown>): (path: string) => { status: number; location: string | null; body: Promise<string> } | null {
  const s = new AssetServer(root, assetsSchema.parse({ directory: ".", ...config }));
  return (path) => {
    const response = s.handle(new Request(`http://x${path}`));
    return response === null ? null : { status: response.status, location: response.headers.get("location"), body: response.text() };
  };
}

describe("html_handling", () => {
  it("force-trailing-slash serves pages at /name/ and redirects the rest there", async () => {
    const get = server({ html_handling: "force-trailing-slash" });
    expect(get("/about")).toMatchObject({ status: 307, location: "/about/" });
    expect(await get("/about/")?.body).toBe("about");
    expect(get("/about.html")).toMatchObject({ status: 307, location: "/about/" });
    expect(get("/docs")).toMatchObject({ status: 307, location: "/docs/" });
    expect(await get("/docs/")?.body).toBe("docs");
  });

  it("drop-trailing-slash serves pages at /name and redirects /name/ there", async () => {
    const get = server({ html_handling: "drop-trailing-slash" });
    expect(await get("/about")?.body).toBe("about");
    expect(get("/docs/")).toMatchObject({ status: 307, location: "/docs" });
    expect(await get("/docs")?.body).toBe("docs");
    expect(get("/docs/index.html")).toMatchObject({ status: 307, location: "/docs" });
    expect(await get("/")?.body).toBe("home");
  });

  it("none serves exact paths only", async () => {
    const get = server({ html_handling: "none" });
    expect(get("/about")).toBeNull();
    expect(await get("/about.html")?.body).toBe("about");
  });
});

it("single-page-application answers unknown paths with /index.html (200); rule files are never served", async () => {
  const get = server({ not_found_handling: "single-page-application" });
  expect(get("/app/route")).toMatchObject({ status: 200 });
  expect(await get("/app/route")?.body).toBe("home");
  expect(await get("/_headers")?.body).toBe("home");
  expect(server({})("/_headers")).toBeNull();
});

it("run_worker_first: booleans, patterns and negated patterns", () => {
  expect(workerFirst(true, "/a")).toBe(true);
  expect(workerFirst(false, "/a")).toBe(false);
  expect(workerFirst(["/api/*"], "/api/x")).toBe(true);
  expect(workerFirst(["/api/*"], "/apix")).toBe(false);
  expect(workerFirst(["/api/*", "!/api/static/*"], "/api/static/a.txt")).toBe(false);
});
