/**
 * The Worker's code as one ES module file, built with esbuild before it is
 * imported: TypeScript transpiled, `cloudflare:*` imports mapped to core's
 * modules, and wrangler's module rules (Text, Data, CompiledWasm) applied, as
 * wrangler's own bundling does. Node then imports plain JavaScript, so no
 * process needs module hooks to run a Worker. In Node 20 every `module.register`
 * starts a loader thread with its own V8 isolate (about 36 MiB per process with
 * tsx): a cluster supervisor bundles once, and its workers import the result.
 *
 * Torpor's own packages (`@torpor/*`) stay outside the bundle, imported by
 * absolute URL, so the Worker shares the instances the runtime uses; Node's
 * built-in modules stay outside too. Everything else the Worker imports is in
 * the bundle. Stack traces point into the sources through an inline source map.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CLOUDFLARE_MODULES, cloudflareModuleNotProvided } from "@torpor/core";
import type { Plugin } from "esbuild";
import { processBundleDir } from "./bundle-dir.ts";
import { CliError } from "./errors.ts";
import { matchModuleRule, moduleSource, removedRuleMessage, type ModuleRules } from "./module-rules.ts";

/** A bundled Worker: the file to import, and the source files it was built from (`torpor dev` watches them). */
export interface WorkerBundle {
  /** The entry as given (an absolute path). */
  entry: string;
  /** The scope (another Worker of the same process), if any. */
  scope?: string;
  /** The bundle: an ES module file. */
  file: string;
  /** Absolute paths of the project's files in the bundle (node_modules left out). */
  inputs: string[];
}

/** What a bundle is built with. */
export interface BundleOptions {
  moduleRules: ModuleRules;
  /** Loads the Worker apart (its own module instances, and `cloudflare:workers` env of that scope). */
  scope?: string;
  /** Where the bundle is written (a private folder of this process when not given). */
  outDir?: string;
  /** Where esbuild reports paths from (the project folder). */
  cwd?: string;
}

/** The env variable through which a supervisor hands its bundle to the workers it forks. */
export const BUNDLE_ENV = "TORPOR_WORKER_BUNDLE";

// Run from a source checkout, Torpor's packages resolve to their TypeScript sources (bin/hooks.js adds the
// condition; tsx loads them), so the Worker's imports of them must too.
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const SCOPED_NAMESPACE = "torpor-scoped";
/** This package's folder: Torpor's own modules are resolved from here. */
const CLI_DIR = fileURLToPath(new URL(".", import.meta.url));
const MISSING_NAMESPACE = "torpor-not-provided";
const RULE_NAMESPACE = "torpor-module-rule";

/** Builds under way in this process (esbuild's service stops when none is). */
let building = 0;

/**
 * Bundles the Worker at `entry` into one ES module file (and its source map). A Worker that does not build
 * (a syntax error, an import that does not resolve) throws ERR_ENTRY_LOAD
 * with esbuild's `file:line:column: ERROR: message` lines.
 */
export async function bundleWorker(entry: string, options: BundleOptions): Promise<WorkerBundle> {
  const cwd = options.cwd ?? process.cwd();
  const outDir = options.outDir ?? processBundleDir();
  mkdirSync(outDir, { recursive: true });
  // Only the bundling processes load esbuild (a cluster's workers import the supervisor's bundle).
  const esbuild = await import("esbuild");
  // A name of its own for each build (a reload's bundle never replaces one a running worker maps its stacks with).
  const file = join(outDir, `worker-${randomUUID().slice(0, 8)}.mjs`);
  const ruleFiles = new Set<string>();
  let result: Awaited<ReturnType<typeof esbuild.build<{ write: false; metafile: true }>>>;
  building++;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: cwd,
      bundle: true,
      write: false,
      metafile: true,
      outfile: file,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node}`,
      // Class and function names stay as written (a renamed duplicate would show in logs and `constructor.name`).
      keepNames: true,
      // A map file beside the bundle (read only when a stack is mapped): the bundle's own text stays small in memory.
      sourcemap: "linked",
      sourcesContent: false,
      logLevel: "silent",
      // Node's conditions (no "module"), and in a source checkout the one that selects Torpor's sources.
      conditions: FROM_SOURCE ? ["@torpor/source"] : [],
      // CommonJS code inside an ES module bundle still finds `require` (for Node's built-in modules).
      banner: { js: 'import { createRequire as __torporCreateRequire } from "node:module";\nconst require = __torporCreateRequire(import.meta.url);' },
      plugins: [torporPlugin(options, ruleFiles)],
    });
  } catch (cause) {
    const errors = (cause as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors;
    const text =
      errors !== undefined
        ? errors
            .map((e) =>
              e.location ? `${resolvePath(cwd, e.location.file)}:${e.location.line}:${e.location.column + 1}: ERROR: ${e.text}` : `ERROR: ${e.text}`,
            )
            .join("\n")
        : String((cause as Error)?.message ?? cause);
    throw new CliError("ERR_ENTRY_LOAD", `Loading the Worker entry ${entry} failed:\n${text}`, { cause });
  } finally {
    // esbuild's service is a child process that would stay for the life of this one: the next build starts it again.
    if (--building === 0) await esbuild.stop();
  }
  if (!result.outputFiles.some((f) => f.path === file))
    throw new CliError("ERR_ENTRY_LOAD", `Loading the Worker entry ${entry} failed: esbuild wrote no module.`);
  for (const output of result.outputFiles) writeFileSync(output.path, output.contents);
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes(":") || isAbsolute(p))
    .map((p) => resolvePath(cwd, p))
    .filter((p) => !p.includes("/node_modules/"));
  for (const f of ruleFiles) if (!inputs.includes(f)) inputs.push(f);
  return { entry, ...(options.scope !== undefined ? { scope: options.scope } : {}), file, inputs };
}

/** Imports a bundle (its source map makes stack traces name the Worker's own files and lines). */
export async function importBundle(bundle: WorkerBundle): Promise<Record<string, unknown>> {
  process.setSourceMapsEnabled(true);
  return (await import(pathToFileURL(bundle.file).href)) as Record<string, unknown>;
}

/** The bundle a supervisor built for this entry (handed down in BUNDLE_ENV), or null. */
export function inheritedBundle(entry: string, scope: string | undefined): WorkerBundle | null {
  const text = process.env[BUNDLE_ENV];
  if (text === undefined || text === "") return null;
  try {
    const bundle = JSON.parse(text) as WorkerBundle;
    return bundle.entry === entry && bundle.scope === scope ? bundle : null;
  } catch {
    return null;
  }
}

function torporPlugin(options: BundleOptions, ruleFiles: Set<string>): Plugin {
  return {
    name: "torpor",
    setup(build) {
      // Core's modules as this package resolves them (its sources in a checkout, its build when installed), by
      // esbuild's resolver: import.meta.resolve is missing where the CLI runs inside Vite (compat's in-process tests).
      const fromCli = async (specifier: string) => {
        const resolved = await build.resolve(specifier, { kind: "import-statement", resolveDir: CLI_DIR, pluginData: RESOLVING });
        if (resolved.errors.length > 0) throw new Error(resolved.errors.map((e) => e.text).join("; "));
        return pathToFileURL(resolved.path).href;
      };
      build.onResolve({ filter: /^cloudflare:/ }, async (args) => {
        if (args.path === "cloudflare:workers" && options.scope !== undefined) return { path: args.path, namespace: SCOPED_NAMESPACE };
        const target = CLOUDFLARE_MODULES[args.path];
        if (target !== undefined) return { path: await fromCli(target), external: true };
        // Fails where it is imported, as a module that is not there would (a dynamic import only when it runs).
        return { path: args.path, namespace: MISSING_NAMESPACE };
      });
      // Core's modules by absolute URL (the scoped cloudflare:workers module imports them so): as they are.
      build.onResolve({ filter: /^file:/ }, (args) => ({ path: args.path, external: true }));
      build.onLoad({ filter: /.*/, namespace: SCOPED_NAMESPACE }, async () => {
        const scope = JSON.stringify(options.scope ?? "");
        return {
          contents: [
            `export * from ${JSON.stringify(await fromCli(CLOUDFLARE_MODULES["cloudflare:workers"]!))};`,
            `import { scopedWorkerEnv } from ${JSON.stringify(await fromCli("@torpor/core/cloudflare/worker-scope"))};`,
            `const scoped = scopedWorkerEnv(${scope});`,
            "export const env = scoped.env;",
            "export const exports = scoped.exports;",
          ].join("\n"),
          loader: "js",
        };
      });
      build.onLoad({ filter: /.*/, namespace: MISSING_NAMESPACE }, (args) => {
        const error = cloudflareModuleNotProvided(args.path);
        return {
          contents: `const error = new Error(${JSON.stringify(error.message)});\nerror.code = ${JSON.stringify(error.code)};\nthrow error;\n`,
          loader: "js",
        };
      });
      // wrangler's module rules, matched against the specifier as written.
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === RESOLVING || args.path.startsWith("node:") || args.namespace !== "file") return undefined;
        const found = matchModuleRule(options.moduleRules, args.path);
        if (found === null) return torporPackage(args.path) ? external(args) : undefined;
        if (found.removed) return { errors: [{ text: removedRuleMessage(args.path, found.matcher.rule) }] };
        const clean = args.path.replace(/\?.*$/, "");
        const resolved = await build.resolve(clean, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: RESOLVING });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        ruleFiles.add(resolved.path);
        return { path: resolved.path, namespace: RULE_NAMESPACE, pluginData: found.matcher.type };
      });
      build.onLoad({ filter: /.*/, namespace: RULE_NAMESPACE }, (args) => ({
        contents: moduleSource(args.pluginData, args.path),
        loader: "js",
        resolveDir: dirname(args.path),
      }));

      /** Torpor's packages, imported where they are (the runtime's own instances). */
      async function external(args: { path: string; kind: import("esbuild").ImportKind; resolveDir: string; importer: string }) {
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: RESOLVING });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: pathToFileURL(resolved.path).href, external: true };
      }
    },
  };
}

const RESOLVING = Symbol("torpor-resolving");

function torporPackage(specifier: string): boolean {
  return specifier.startsWith("@torpor/");
}
