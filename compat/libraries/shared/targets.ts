/**
 * The two runtimes each library app is tested on: `torpor dev` as a child
 * process (the product as users run it), and workerd through miniflare (the
 * reference: the app bundled by esbuild, as wrangler would). A scenario that
 * passes on workerd and fails on Torpor is Torpor's bug; one that fails on
 * both is the app's. Nothing here sleeps to synchronize.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTorpor, type TorporProcess } from "../../../examples/cloudflare-worker/test/helpers.ts";

/** A running app, reachable at `url` (http) / `host` (host:port, for partysocket). */
export interface AppTarget {
  readonly runtime: "torpor" | "workerd";
  readonly url: string;
  readonly host: string;
  stop(): Promise<void>;
}

interface WranglerConfig {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  durable_objects: { bindings: Array<{ name: string; class_name: string }> };
}

function readWrangler(appDir: string): WranglerConfig {
  // The apps' wrangler.jsonc files hold no comments, only JSONC's trailing commas (the formatter keeps them), which are dropped before JSON parsing.
  const text = readFileSync(join(appDir, "wrangler.jsonc"), "utf8").replace(/,(\s*[}\]])/g, "$1");
  return JSON.parse(text) as WranglerConfig;
}

/** One object as the admin endpoint's `GET /objects` lists it. */
export interface AdminObject {
  binding: string;
  name: string | null;
  state: "live" | "hibernated" | string;
  sockets: number;
  constructed: number;
  woken: number;
  evicted: number;
}

/** `torpor dev` with an admin endpoint; `restart()` stops it (SIGTERM) and starts it again on the same data. */
export class TorporApp implements AppTarget {
  readonly runtime = "torpor";
  #process: TorporProcess;
  readonly #appDir: string;
  readonly #dataDir: string;

  private constructor(appDir: string, dataDir: string, process: TorporProcess) {
    this.#appDir = appDir;
    this.#dataDir = dataDir;
    this.#process = process;
  }

  static async start(appDir: string): Promise<TorporApp> {
    const dataDir = mkdtempSync(join(tmpdir(), "torpor-library-"));
    return new TorporApp(appDir, dataDir, await TorporApp.#spawn(appDir, dataDir));
  }

  static #spawn(appDir: string, dataDir: string): Promise<TorporProcess> {
    return startTorpor(["dev", "--port", "0", "--admin-port", "0", "--persist-to", dataDir], { admin: true, cwd: appDir });
  }

  get url(): string {
    return this.#process.url.replace(/\/$/, "");
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** What torpor printed on stderr (its warnings and the apps' console output). */
  stderr(): string {
    return this.#process.stderr();
  }

  /** Forces the object to hibernate through the admin endpoint (its sockets stay open). */
  async hibernate(binding: string, name: string): Promise<void> {
    // The header the admin endpoint asks of state changes when it has no token (loopback).
    const response = await fetch(`${this.#process.adminUrl}/objects/${binding}/${encodeURIComponent(name)}/hibernate`, {
      method: "POST",
      headers: { "X-Torpor-Admin": "1" },
    });
    if (response.status !== 200) throw new Error(`hibernate ${binding}/${name}: ${response.status} ${await response.text()}`);
  }

  /** The admin endpoint's record of one object (state, sockets, counters). */
  async object(binding: string, name: string): Promise<AdminObject> {
    const response = await fetch(`${this.#process.adminUrl}/objects`);
    const list = (await response.json()) as AdminObject[];
    const found = list.find((o) => o.binding === binding && o.name === name);
    if (found === undefined) throw new Error(`No object ${binding}/${name} in ${JSON.stringify(list)}`);
    return found;
  }

  async restart(): Promise<void> {
    await this.#terminate();
    this.#process = await TorporApp.#spawn(this.#appDir, this.#dataDir);
  }

  async #terminate(): Promise<void> {
    const process = this.#process;
    if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill("SIGTERM");
    const code = await process.exited;
    if (code !== 0) throw new Error(`torpor exited with ${code} on SIGTERM.\nstderr:\n${process.stderr()}`);
  }

  async stop(): Promise<void> {
    try {
      await this.#terminate();
    } finally {
      rmSync(this.#dataDir, { recursive: true, force: true });
    }
  }
}

/** The same app on workerd: bundled by esbuild (as wrangler does) and run by miniflare. */
export async function startWorkerd(appDir: string): Promise<AppTarget> {
  const config = readWrangler(appDir);
  // Resolved from the app's package (this shared folder has no dependencies of its own).
  const require = createRequire(join(appDir, "package.json"));
  const { build } = require("esbuild") as typeof import("esbuild");
  const outDir = mkdtempSync(join(tmpdir(), "torpor-library-bundle-"));
  const outfile = join(outDir, "worker.js");
  await build({
    entryPoints: [join(appDir, config.main)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    // Node's built-ins stay imports, as wrangler leaves them for nodejs_compat.
    external: ["cloudflare:*", "node:*", ...builtinModules],
    logLevel: "silent",
  });
  const { Miniflare, Log, LogLevel } = require("miniflare") as typeof import("miniflare");
  const mf = new Miniflare({
    modules: true,
    scriptPath: outfile,
    modulesRoot: outDir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    durableObjects: Object.fromEntries(config.durable_objects.bindings.map((b) => [b.name, { className: b.class_name, useSQLite: true }])),
    cf: false,
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio() {},
  });
  const url = String(await mf.ready).replace(/\/$/, "");
  return {
    runtime: "workerd",
    url,
    host: new URL(url).host,
    async stop() {
      await mf.dispose();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
