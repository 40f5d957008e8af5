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
 * @param {(specifier: string, context?: object) => Promise<{ url: string }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  // Workers code imports DurableObject, WorkerEntrypoint and env from here.
  // Resolved through the rest of the chain so tsx loads it when it is TypeScript.
  if (specifier === "cloudflare:workers") specifier = options.workersModule;
  if (options.sourceCondition && !context.conditions.includes("@torpor/source")) {
    return nextResolve(specifier, { ...context, conditions: [...context.conditions, "@torpor/source"] });
  }
  return nextResolve(specifier, context);
}
