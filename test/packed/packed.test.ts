/**
 * The README's "Use it in your project", run as a new user would: build and
 * pack the published packages, check the packed manifests, install the
 * tarballs with plain npm (no pnpm, no overrides) into a project outside the
 * workspace, run its Durable Object test with @torpor/testing, type-check it,
 * and serve it with `npx @torpor/cli dev` and exchange a WebSocket message.
 *
 * The commands below are the README's, character for character (checked by
 * the first test); the project is copied from ./project.
 *
 * Speed: better-sqlite3 has no downloadable prebuilt binary here and compiles
 * from source (~1 min). The workspace already compiled the same version for
 * the same Node, so it is offered to better-sqlite3's installer
 * (prebuild-install) as a local prebuild; when npm resolves another version
 * the name does not match and it compiles as on any fresh machine.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const packsDir = join(repoRoot, "packs");
const PACKAGES = ["core", "storage-sqlite", "bindings", "postgres", "testing", "native", "cli"] as const;

/** The README's commands, in order. */
const COMMANDS = {
  pack: "npx pnpm@10 pack:packages",
  install: "npm install -D ../torpor/packs/*.tgz vitest@3 typescript@5 @types/node@20",
  test: "npx vitest run",
  typecheck: "npx tsc",
  dev: "npx @torpor/cli dev",
};

/** The environment of a user's shell: nothing from pnpm, vitest or this workspace. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|vitest|node_options$|node_env$|init_cwd$|test$)/i.test(key)) continue;
    env[key] = value;
  }
  // pnpm puts the workspace's node_modules/.bin first on PATH for scripts.
  env.PATH = (process.env.PATH ?? "")
    .split(":")
    .filter((dir) => !dir.startsWith(repoRoot) && !dir.includes("/node_modules/"))
    .join(":");
  return { ...env, ...extra };
}

/**
 * Runs a shell command line (as typed by the user) and returns its stdout and
 * stderr; throws with them on failure. Asynchronous: vitest's worker must stay
 * responsive during a minute-long install.
 */
async function sh(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)("bash", ["-c", command], { cwd, env, encoding: "utf8", maxBuffer: 64 << 20 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    throw new Error(`\`${command}\` exited ${e.code}:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

function packedManifest(tarball: string): Record<string, unknown> {
  return JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })) as Record<string, unknown>;
}

function tarballOf(name: string): string {
  const file = readdirSync(packsDir).find((f) => f.startsWith(`torpor-${name}-`) && f.endsWith(".tgz"));
  if (file === undefined) throw new Error(`No torpor-${name}-*.tgz in ${packsDir}`);
  return join(packsDir, file);
}

/**
 * A prebuild-install archive of the workspace's compiled better-sqlite3, named
 * as the installer looks for it: better-sqlite3-v<version>-node-v<abi>-<platform>-<arch>.tar.gz.
 */
function localBetterSqlitePrebuild(into: string): string {
  const require = createRequire(join(repoRoot, "packages/storage-sqlite/package.json"));
  const pkgDir = dirname(require.resolve("better-sqlite3/package.json"));
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string };
  const binary = "build/Release/better_sqlite3.node";
  mkdirSync(into, { recursive: true });
  if (existsSync(join(pkgDir, binary))) {
    const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    execFileSync("tar", ["-czf", join(into, name), "-C", pkgDir, binary]);
  }
  return into;
}

describe("the published packages, installed with npm outside the workspace", () => {
  let home: string;
  let project: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), "torpor-packed-"));
    project = join(home, "my-app");
    cpSync(fileURLToPath(new URL("project/", import.meta.url)), project, { recursive: true });
    // The README's layout: the clone at ../torpor beside the project.
    symlinkSync(repoRoot, join(home, "torpor"));
    env = userEnv();
  });

  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("uses the README's commands", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Use it in your project"));
    for (const command of Object.values(COMMANDS)) expect(section).toContain(command);
  });

  it("builds and packs every package, with manifests that resolve outside the workspace", async () => {
    rmSync(packsDir, { recursive: true, force: true });
    // pnpm itself is what runs this suite; the README's `npx pnpm@10` is the same pnpm.
    await sh(COMMANDS.pack.replace("npx pnpm@10", "pnpm"), repoRoot, userEnv());
    for (const name of PACKAGES) {
      const tarball = tarballOf(name);
      const manifest = packedManifest(tarball);
      const text = JSON.stringify(manifest);
      expect(text, `${name}: pnpm left a workspace: or catalog: range`).not.toMatch(/"(workspace|catalog):/);
      expect(manifest).toMatchObject({
        name: `@torpor/${name}`,
        license: "MIT",
        type: "module",
        engines: { node: expect.any(String) },
        repository: { url: expect.any(String) },
      });
      const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
      expect(files).toContain("package/LICENSE");
      expect(files).toContain("package/README.md");
      // Every export has types, and every file an export names (but the workspace's source) is in the tarball.
      for (const [subpath, target] of Object.entries(manifest.exports as Record<string, string | Record<string, string>>)) {
        const conditions = typeof target === "string" ? { default: target } : target;
        if (subpath !== "./package.json") expect(conditions, `${name} ${subpath}`).toHaveProperty("types");
        for (const [condition, file] of Object.entries(conditions)) {
          if (condition === "@torpor/source") continue;
          // A subpath pattern ("./dist/cloudflare/*.js", where * may span folders) must match at least one file.
          const pattern = new RegExp(
            `^package/${file
              .replace(/^\.\//, "")
              .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
              .replace(/\*/g, ".+")}$`,
          );
          expect(
            files.some((f) => pattern.test(f)),
            `${name} ${subpath} ${condition}: ${file} is not in the tarball`,
          ).toBe(true);
        }
      }
      // Every package the built code imports is declared (npm's flat node_modules would hide a missing one).
      // (A package may import itself by name: Node resolves that through its own exports.)
      const declared = new Set([
        manifest.name as string,
        ...Object.keys({ ...(manifest.dependencies as object), ...(manifest.optionalDependencies as object), ...(manifest.peerDependencies as object) }),
      ]);
      const imported = new Set<string>();
      for (const file of files.filter((f) => /^package\/(dist|bin)\/.*\.js$/.test(f))) {
        const code = execFileSync("tar", ["-xzOf", tarball, file], { encoding: "utf8" });
        for (const m of code.matchAll(/(?:from|import\()\s*"([^".][^"]*)"/g)) {
          const spec = m[1]!;
          if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) continue; // node:, cloudflare:, a vite virtual: module
          imported.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
        }
      }
      for (const dep of imported) expect(declared, `${name} imports ${dep}`).toContain(dep);
    }
    expect(packedManifest(tarballOf("testing")).peerDependencies).toMatchObject({ vitest: expect.any(String) });
    expect(packedManifest(tarballOf("cli")).bin).toBeDefined();
  });

  it("installs with plain npm", async () => {
    // The workspace's better-sqlite3 binary, offered to its installer (see the top of this file); install only.
    const prebuilds = localBetterSqlitePrebuild(join(home, "prebuilds"));
    await sh(COMMANDS.install, project, { ...env, npm_config_better_sqlite3_local_prebuilds: prebuilds });
    const installed = JSON.parse(readFileSync(join(project, "node_modules/@torpor/testing/package.json"), "utf8")) as { version: string };
    expect(installed.version).toMatch(/^\d+\.\d+\.\d+/);
    // One vitest: the testing package's peer, not a copy of its own.
    expect(existsSync(join(project, "node_modules/@torpor/testing/node_modules/vitest"))).toBe(false);
    // The cli's optional addon (a reload's sockets in batches, the malloc trim) compiled at install: this machine has a compiler.
    expect(existsSync(join(project, "node_modules/@torpor/native/build/Release/torpor_native.node"))).toBe(true);
  });

  it("runs a Durable Object test with @torpor/testing", async () => {
    const output = await sh(COMMANDS.test, project, { ...env, NO_COLOR: "1" });
    expect(output).toMatch(/Tests\s+1 passed \(1\)/);
  });

  it("type-checks", async () => {
    await sh(COMMANDS.typecheck, project, env);
  });

  it("serves the Worker with npx @torpor/cli dev and exchanges a WebSocket message", async () => {
    // --port 0: a free port instead of the README's default 8787, which may be taken on a CI machine.
    const child = spawn("bash", ["-c", `exec ${COMMANDS.dev} --port 0`], { cwd: project, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const ready = /Ready on (http:\/\/\S+)/.exec(output);
          if (ready) resolve(ready[1]!);
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", onData);
        void exited.then(() => reject(new Error(`torpor dev exited before it was ready:\n${output}`)));
      });
      const ws = new WebSocket(`${url.replace(/^http/, "ws").replace(/\/$/, "")}/lobby`);
      const reply = new Promise<string>((resolve, reject) => {
        ws.once("message", (data) => resolve(String(data)));
        ws.once("error", reject);
      });
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      ws.send("hello");
      expect(await reply).toBe("1: hello");
      ws.close();
      // Ctrl-C, as a terminal sends it: to the whole process group. npm runs the
      // bin through `sh -c`, whose shell dies of the SIGINT, and npm then ends
      // itself with the same signal (as for any npx command): the server's own
      // clean shutdown is what is checked.
      process.kill(-child.pid!, "SIGINT");
      const end = await exited;
      expect(output).toMatch(/Shutting down[^\n]*signal=SIGINT[\s\S]*\binfo: Stopped\n/);
      expect(output).not.toMatch(/\b(error|warn):/);
      expect([0, "SIGINT"]).toContain(end.code ?? end.signal);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
  });
});
