// Module hooks for wrangler's module rules (registered by src/module-rules.ts
// before the Worker is imported; they run on Node's loader thread). An import
// whose specifier matches a Text, Data or CompiledWasm rule becomes a module
// whose default export is the file as a string, an ArrayBuffer or a
// WebAssembly.Module, as on workerd. Plain JavaScript: hooks load before
// TypeScript can.
import { fileURLToPath } from "node:url";

/** @type {{ rules: Matcher[], removed: Matcher[] }} */
let rules = { rules: [], removed: [] };
const FORMAT = "torpor-module-rule:";

/**
 * @typedef {{ type: string, patterns: string[], rule: object }} Matcher
 * @param {{ rules: { rules: Matcher[], removed: Matcher[] } }} data
 */
export function initialize(data) {
  rules = data.rules;
}

/** @param {string} specifier */
function match(specifier) {
  /** @param {Matcher} m */
  const test = (m) => m.patterns.some((p) => new RegExp(p).test(specifier));
  const found = rules.rules.find(test);
  if (found !== undefined) return found.type === "ESModule" || found.type === "CommonJS" ? null : { matcher: found, removed: false };
  const shadowed = rules.removed.find(test);
  return shadowed !== undefined && shadowed.type !== "ESModule" && shadowed.type !== "CommonJS" ? { matcher: shadowed, removed: true } : null;
}

/**
 * Same as moduleSource() in src/module-rules.ts.
 * @param {string} type
 * @param {string} path
 */
export function moduleSource(type, path) {
  const read = `readFileSync(${JSON.stringify(path)})`;
  const head = `import { readFileSync } from "node:fs";\n`;
  if (type === "Text") return `${head}export default ${read}.toString("utf8");\n`;
  if (type === "Data") return `${head}const bytes = ${read};\nexport default bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);\n`;
  if (type === "CompiledWasm") return `${head}export default new WebAssembly.Module(${read});\n`;
  throw new TypeError(`No module source for rule type ${type}.`);
}

/**
 * @param {string} specifier
 * @param {object} context
 * @param {(specifier: string, context?: object) => Promise<{ url: string, format?: string | null }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  const found = specifier.startsWith("node:") ? null : match(specifier);
  if (found === null) return nextResolve(specifier, context);
  if (found.removed) {
    // wrangler's message (deployment-bundle/module-collection.ts).
    throw new Error(
      `The file ${specifier} matched a module rule in your configuration (${JSON.stringify(found.matcher.rule)}), but was ignored because a previous rule with the same type was not marked as \`fallthrough = true\`.`,
    );
  }
  const resolved = await nextResolve(specifier, context);
  return { ...resolved, format: `${FORMAT}${found.matcher.type}` };
}

/**
 * @param {string} url
 * @param {{ format?: string | null }} context
 * @param {(url: string, context?: object) => Promise<object>} nextLoad
 */
export async function load(url, context, nextLoad) {
  if (typeof context.format !== "string" || !context.format.startsWith(FORMAT)) return nextLoad(url, context);
  const file = new URL(url);
  file.search = "";
  file.hash = "";
  return { format: "module", source: moduleSource(context.format.slice(FORMAT.length), fileURLToPath(file)), shortCircuit: true };
}
