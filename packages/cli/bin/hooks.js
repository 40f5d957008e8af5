// Module resolve hook (runs on Node's loader thread; see bin/torpor.js).
/** @type {{ workersModule: string, sourceCondition: boolean }} */
let options = { workersModule: "", sourceCondition: false };

/** @param {{ workersModule: string, sourceCondition: boolean }} data */
export function initialize(data) {
  options = data;
}

/**
 * @param {string} specifier
 * @param {{ conditions: string[], parentURL?: string, importAttributes?: object }} context
 * @param {(specifier: string, context?: object) => Promise<{ url: string, format?: string | null }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  // Workers code imports DurableObject, WorkerEntrypoint and env from here.
  // Resolved through the rest of the chain so tsx loads it when it is TypeScript.
  if (specifier === "cloudflare:workers") specifier = options.workersModule;
  const next = options.sourceCondition && !context.conditions.includes("@torpor/source") ? { ...context, conditions: [...context.conditions, "@torpor/source"] } : context;
  const resolved = await nextResolve(specifier, next);
  // Worker code is always ES modules (wrangler bundles it so), even in a folder whose
  // package.json has no "type": "module": load the project's own files as ESM.
  if (resolved.url.startsWith("file:") && !resolved.url.includes("/node_modules/") && ESM_EXTENSIONS.test(resolved.url)) {
    return { ...resolved, format: "module" };
  }
  return resolved;
}

const ESM_EXTENSIONS = /\.(?:js|mjs|jsx|ts|mts|tsx)$/;
