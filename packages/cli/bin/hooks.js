// Module resolve hook for a source checkout (registered by bin/torpor.js, with tsx, only
// when the CLI runs from its TypeScript sources). It adds the `@torpor/source` export
// condition that `--conditions` would otherwise set (it cannot be set at run time, but a
// resolve hook may pass extra conditions on), so a fresh clone needs no build. The
// Worker's own code needs no hook: it is bundled first (src/worker-bundle.ts).

/**
 * @param {string} specifier
 * @param {{ conditions: string[] }} context
 * @param {(specifier: string, context?: object) => Promise<{ url: string, format?: string | null }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  if (context.conditions.includes("@torpor/source")) return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, "@torpor/source"] });
}
