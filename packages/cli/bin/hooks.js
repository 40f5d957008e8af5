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

/**
 * @param {string} specifier
 * @param {{ conditions: string[], parentURL?: string, importAttributes?: object }} context
 * @param {(specifier: string, context?: object) => Promise<{ url: string, format?: string | null }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  const next =
    options.sourceCondition && !context.conditions.includes("@torpor/source") ? { ...context, conditions: [...context.conditions, "@torpor/source"] } : context;
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
  const resolved = await nextResolve(specifier, next);
  // Worker code is always ES modules (wrangler bundles it so), even in a folder whose
  // package.json has no "type": "module": load the project's own files as ESM.
  if (resolved.url.startsWith("file:") && !resolved.url.includes("/node_modules/") && ESM_EXTENSIONS.test(resolved.url)) {
    return { ...resolved, format: "module" };
  }
  return resolved;
}

const ESM_EXTENSIONS = /\.(?:js|mjs|jsx|ts|mts|tsx)$/;
