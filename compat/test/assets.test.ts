// Static assets: the same project (compat/assets: wrangler.jsonc, worker.js,
// public/) on workerd (miniflare, configured as the wrangler.jsonc says) and
// on `torpor dev` reading the wrangler.jsonc itself. Every request's status,
// headers and body must be equal, but for the known differences below.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const project = fileURLToPath(new URL("../assets/", import.meta.url));
const bin = fileURLToPath(new URL("../../packages/cli/bin/torpor.js", import.meta.url));

/** What each side answers; a case is [label, path, init]. */
const CASES: Array<[string, string, RequestInit?]> = [
  ["root", "/"],
  ["index.html redirects to /", "/index.html"],
  ["extensionless html", "/about"],
  [".html redirects", "/about.html"],
  ["directory without slash redirects", "/sub"],
  ["directory index", "/sub/"],
  ["sub/index redirects", "/sub/index"],
  ["css", "/style.css"],
  ["javascript", "/app.js"],
  ["json", "/data.json"],
  ["png", "/logo.png"],
  ["text", "/notes.txt"],
  ["query kept on redirect", "/about.html?x=1"],
  ["encoded path redirects to canonical", "/%73tyle.css"],
  ["space in a name", "/a%20b"],
  ["file and directory: /both", "/both"],
  ["file and directory: /both/", "/both/"],
  ["file and directory: /both.html", "/both.html"],
  ["missing: falls to the Worker", "/missing"],
  ["missing navigation: 404 page", "/missing", { headers: { "Sec-Fetch-Mode": "navigate" } }],
  ["missing navigation in a folder: the folder's 404 page", "/blog/nope", { headers: { "Sec-Fetch-Mode": "navigate" } }],
  ["run_worker_first pattern", "/api/hidden.txt"],
  ["run_worker_first negated pattern", "/api/static/info.txt"],
  ["HEAD", "/style.css", { method: "HEAD" }],
  ["POST to an asset", "/style.css", { method: "POST", body: "x" }],
  ["POST elsewhere", "/form", { method: "POST", body: "x" }],
  ["Authorization: no Cache-Control", "/style.css", { headers: { Authorization: "Bearer x" } }],
  ["traversal", "/%2e%2e/%2e%2e/etc/passwd"],
  ["binding", "/via-binding"],
  ["binding, missing asset", "/via-binding?path=/nope.txt"],
  ["binding, html handling", "/via-binding?path=/about.html"],
  ["_redirects: 301", "/old-page"],
  ["_redirects: default 302", "/temp"],
  ["_redirects: 303", "/see-other"],
  ["_redirects: 307 keeps the query", "/keep-query?x=1"],
  ["_redirects: destination query wins", "/with-query?x=1"],
  ["_redirects: external 308", "/external"],
  ["_redirects: 200 serves another asset", "/proxy-notes"],
  ["_redirects: 200 to an html path", "/proxy-about"],
  ["_redirects: 200 to a missing asset", "/proxy-missing"],
  ["_redirects: a bad status is skipped", "/bad-status"],
  ["_redirects: placeholder", "/blog/post/old"],
  ["_redirects: splat", "/docs/index.html"],
  ["_redirects: exact path after a pattern", "/late-static"],
  ["_redirects: POST is redirected too", "/old-page", { method: "POST", body: "x" }],
  ["_redirects: through the binding", "/via-binding?path=/old-page"],
  ["_headers: on a 404 page", "/blog/missing", { headers: { "Sec-Fetch-Mode": "navigate" } }],
  ["_headers: placeholder", "/data.json"],
  ["_headers: removes a header", "/notes.txt"],
  ["_headers: on a blog page", "/blog/post"],
  [".assetsignore: a file", "/secret.txt"],
  [".assetsignore: a folder", "/private/key.txt"],
  ["rule files are not served: _headers", "/_headers"],
  ["rule files are not served: _redirects", "/_redirects"],
  ["rule files are not served: .assetsignore", "/.assetsignore"],
];

/** Headers that depend on the transport or on the hash function, not on the behaviour. */
const TRANSPORT = new Set(["date", "content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive", "etag", "cf-cache-status"]);

interface Side {
  url: string;
  stop(): Promise<void>;
}

async function observe(base: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [label, path, init] of CASES) {
    const response = await fetch(new URL(path, base), { ...init, redirect: "manual" });
    const headers = Object.fromEntries([...response.headers].filter(([k]) => !TRANSPORT.has(k)));
    const eTag = response.headers.get("etag");
    out[label] = { status: response.status, headers, eTag: eTag === null ? null : /^"[0-9a-f]{32}"$/.test(eTag), body: await response.text() };
  }
  // Conditional requests: the ETag a side gave back, weak or strong, is a 304 with the same headers.
  const first = await fetch(new URL("/style.css", base));
  const eTag = first.headers.get("etag")!;
  await first.text();
  for (const [label, value] of [
    ["If-None-Match strong", eTag],
    ["If-None-Match weak", `W/${eTag}`],
    ["If-None-Match other", '"0000"'],
  ] as const) {
    const response = await fetch(new URL("/style.css", base), { headers: { "If-None-Match": value } });
    const headers = Object.fromEntries([...response.headers].filter(([k]) => !TRANSPORT.has(k)));
    out[label] = { status: response.status, headers, sameETag: response.headers.get("etag") === eTag, body: await response.text() };
  }
  return out;
}

async function startWorkerd(): Promise<Side> {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(project, "worker.js"),
    compatibilityDate: "2026-04-07",
    cf: false,
    assets: {
      directory: join(project, "public"),
      binding: "ASSETS",
      routerConfig: {
        has_user_worker: true,
        invoke_user_worker_ahead_of_assets: false,
        static_routing: { user_worker: ["/api/*"], asset_worker: ["/api/static/*"] },
      },
      assetConfig: { html_handling: "auto-trailing-slash", not_found_handling: "404-page" },
    },
  });
  const url = String(await mf.ready);
  return { url, stop: () => mf.dispose() };
}

async function startTorpor(): Promise<Side> {
  const data = mkdtempSync(join(tmpdir(), "torpor-compat-assets-"));
  const child: ChildProcess = spawn(process.execPath, [bin, "dev", "--port", "0", "--persist-to", data], { cwd: project, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const found = /^Ready on (\S+)$/m.exec(stdout)?.[1];
      if (found !== undefined) resolve(found);
    });
    child.once("exit", (code) => reject(new Error(`torpor dev exited (${code}): ${stderr}`)));
  });
  return {
    url,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(data, { recursive: true, force: true });
    },
  };
}

let workerd: Side;
let torpor: Side;
const observed: Record<"workerd" | "torpor", Record<string, unknown>> = { workerd: {}, torpor: {} };

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerd(), startTorpor()]);
  [observed.workerd, observed.torpor] = await Promise.all([observe(workerd.url), observe(torpor.url)]);
  // For reading by eye: compat/out/assets-*.json.
  const out = new URL("../out/", import.meta.url);
  mkdirSync(out, { recursive: true });
  for (const side of ["workerd", "torpor"] as const) writeFileSync(new URL(`assets-${side}.json`, out), JSON.stringify(observed[side], null, 2));
}, 120_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

describe("static assets on workerd and on torpor dev", () => {
  for (const label of [...CASES.map(([l]) => l), "If-None-Match strong", "If-None-Match weak", "If-None-Match other"]) {
    it(label, () => {
      expect(observed.torpor[label]).toEqual(observed.workerd[label]);
    });
  }
});
