// Module resolve hook (runs on Node's loader thread; see bin/torpor.js).
/** @type {{ sourceCondition: boolean }} */
let options = { sourceCondition: false };

/** @param {{ sourceCondition: boolean }} data */
export function initialize(data) {
  options = data;
}

// The cloudflare:* modules Torpor provides. Mirrors CLOUDFLARE_MODULES in
// packages/core/src/cloudflare/modules.ts: hooks load before TypeScript can.
const CLOUDFLARE_MODULES = {
  "cloudflare:workers": "@torpor/core/cloudflare/workers",
  "cloudflare:email": "@torpor/core/cloudflare/email",
  "cloudflare:sockets": "@torpor/core/cloudflare/sockets",
};

// Every Worker after the first of `torpor dev -c a -c b` is imported as `<entry>?torpor-worker=<scope>`:
// each module it imports gets the same tag, so it has module instances of its own (as each Worker has
// its own isolate on workerd), and its `cloudflare:workers` is a module of that scope (SCOPED_SCHEME).
const SCOPE_PARAM = "torpor-worker";
const SCOPED_SCHEME = "torpor-worker:";

/** @param {string | undefined} url */
function scopeOf(url) {
  if (url === undefined || !url.includes(`${SCOPE_PARAM}=`)) return null;
  try {
    return new URL(url).searchParams.get(SCOPE_PARAM);
  } catch {
    return null;
  }
}

/**
 * @param {string} specifier
 * @param {{ conditions: string[], parentURL?: string, importAttributes?: object }} context
 * @param {(specifier: string, context?: object) => Promise<{ url: string, format?: string | null }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  const next =
    options.sourceCondition && !context.conditions.includes("@torpor/source") ? { ...context, conditions: [...context.conditions, "@torpor/source"] } : context;
  // The scoped cloudflare:workers module imports core by absolute URL: those stay shared.
  const scope = context.parentURL?.startsWith(SCOPED_SCHEME) ? null : scopeOf(context.parentURL);
  if (specifier === "cloudflare:workers" && scope !== null) {
    const from = { ...next, parentURL: import.meta.url };
    coreUrls ??= {
      workers: (await nextResolve("@torpor/core/cloudflare/workers", from)).url,
      scope: (await nextResolve("@torpor/core/cloudflare/worker-scope", from)).url,
    };
    return { url: `${SCOPED_SCHEME}cloudflare-workers?${SCOPE_PARAM}=${encodeURIComponent(scope)}`, format: "module", shortCircuit: true };
  }
  if (specifier.startsWith("cloudflare:")) {
    const target = CLOUDFLARE_MODULES[specifier];
    if (target === undefined) {
      // Same text as cloudflareModuleNotProvided() in core.
      const error = new Error(
        `The module "${specifier}" is not provided by Torpor (it provides ${Object.keys(CLOUDFLARE_MODULES).join(", ")}). Remove the import, or load it only where the code runs on Cloudflare.`,
      );
      Object.assign(error, { code: "ERR_CLOUDFLARE_MODULE_NOT_PROVIDED" });
      throw error;
    }
    // Resolved from here (the CLI depends on core; the Worker may not), through the
    // rest of the chain so tsx loads it when it is TypeScript.
    return nextResolve(target, { ...next, parentURL: import.meta.url });
  }
  let resolved = await nextResolve(specifier, next);
  if (scope !== null && resolved.url.startsWith("file:") && scopeOf(resolved.url) === null) {
    const url = new URL(resolved.url);
    url.searchParams.set(SCOPE_PARAM, scope);
    resolved = { ...resolved, url: url.href };
  }
  // Worker code is always ES modules (wrangler bundles it so), even in a folder whose
  // package.json has no "type": "module": load the project's own files as ESM.
  const path = resolved.url.split("?")[0] ?? resolved.url;
  if (resolved.url.startsWith("file:") && !path.includes("/node_modules/") && ESM_EXTENSIONS.test(path)) {
    return { ...resolved, format: "module" };
  }
  return resolved;
}

/**
 * Core's modules the scoped cloudflare:workers module imports, resolved once by resolve() (from
 * here, through the rest of the chain, as the plain cloudflare:* modules are).
 * @type {{ workers: string, scope: string } | undefined}
 */
let coreUrls;

/**
 * @param {string} url
 * @param {{ format?: string | null }} context
 * @param {(url: string, context?: object) => Promise<object>} nextLoad
 */
export async function load(url, context, nextLoad) {
  if (!url.startsWith(SCOPED_SCHEME)) return nextLoad(url, context);
  const scope = new URL(url).searchParams.get(SCOPE_PARAM) ?? "";
  if (coreUrls === undefined) throw new Error(`${url} was not resolved by this hook.`);
  const source = [
    `export * from ${JSON.stringify(coreUrls.workers)};`,
    `import { scopedWorkerEnv } from ${JSON.stringify(coreUrls.scope)};`,
    `const scoped = scopedWorkerEnv(${JSON.stringify(scope)});`,
    "export const env = scoped.env;",
    "export const exports = scoped.exports;",
  ].join("\n");
  return { format: "module", source, shortCircuit: true };
}

const ESM_EXTENSIONS = /\.(?:js|mjs|jsx|ts|mts|tsx)$/;
