import { z } from "zod";

/** The module types of wrangler's `rules` that a JavaScript Worker uses (`ESModule` and `CommonJS` load as JavaScript, as Node does). */
export type ModuleRuleType = "ESModule" | "CommonJS" | "CompiledWasm" | "Text" | "Data";

/** One entry of wrangler's `rules`. */
export interface ModuleRule {
  type: ModuleRuleType;
  globs: string[];
  fallthrough?: boolean | undefined;
}

/** A rule ready for matching: its type, and one regular expression (source) per glob. */
export interface ModuleMatcher {
  type: ModuleRuleType;
  patterns: string[];
  /** The rule as written, for error messages. */
  rule: ModuleRule;
}

/** What the loaders use: the rules in force, and the rules a non-fallthrough rule of the same type shadows (importing a file they match is an error, as in wrangler). */
export interface ModuleRules {
  rules: ModuleMatcher[];
  removed: ModuleMatcher[];
}

/** The zod schema of the `rules` key, as wrangler documents it. */
export const moduleRulesSchema = z.array(
  z.strictObject({
    type: z.enum(["ESModule", "CommonJS", "CompiledWasm", "Text", "Data"]),
    globs: z.array(z.string().min(1)).min(1),
    fallthrough: z.boolean().optional(),
  }),
);

/** wrangler's default rules: `.txt`/`.html` as Text, `.bin` as Data, `.wasm` (and `.wasm?module`) as CompiledWasm. */
export const DEFAULT_MODULE_RULES: readonly ModuleRule[] = [
  { type: "Text", globs: ["**/*.txt", "**/*.html"] },
  { type: "Data", globs: ["**/*.bin"] },
  { type: "CompiledWasm", globs: ["**/*.wasm", "**/*.wasm?module"] },
];

/**
 * Combines the config's rules with the defaults as wrangler does: user rules
 * first; the first rule of a type without `fallthrough: true` ends that
 * type, and later rules of that type (defaults included) are removed, with
 * a warning unless the ending rule says `fallthrough: false`.
 */
export function parseModuleRules(userRules: readonly ModuleRule[], file: string): ModuleRules & { warnings: string[] } {
  const all = [...userRules, ...DEFAULT_MODULE_RULES];
  const ended = new Map<ModuleRuleType, number>();
  const kept: ModuleRule[] = [];
  const removed: ModuleRule[] = [];
  const shadowed = new Map<number, ModuleRule[]>();
  all.forEach((rule, index) => {
    const end = ended.get(rule.type);
    if (end !== undefined) {
      removed.push(rule);
      if (all[end]!.fallthrough !== false) shadowed.set(end, [...(shadowed.get(end) ?? []), rule]);
      return;
    }
    kept.push(rule);
    if (rule.fallthrough !== true) ended.set(rule.type, index);
  });
  const warnings = [...shadowed].map(
    ([end, rules]) =>
      `${file}: the ${end >= userRules.length ? "default " : ""}module rule ${JSON.stringify(all[end])} has no fallthrough, so these rules are ignored: ${rules
        .map((r) => `${JSON.stringify(r)}${userRules.includes(r) ? "" : " (default)"}`)
        .join(", ")}. Add "fallthrough": true to use them, or "fallthrough": false to silence this.`,
  );
  return { rules: kept.map(matcher), removed: removed.map(matcher), warnings };
}

/** The rules with no config: wrangler's defaults. */
export const defaultModuleRules = (): ModuleRules => {
  const { rules, removed } = parseModuleRules([], "");
  return { rules, removed };
};

function matcher(rule: ModuleRule): ModuleMatcher {
  return { type: rule.type, patterns: rule.globs.map(globPattern), rule };
}

/**
 * A glob as wrangler matches it (the glob-to-regexp package without its
 * extended mode): `*` is any run of characters, `/` included, and every
 * other character is literal. It is matched against the import specifier
 * as written (`./logo.wasm`, `pkg/data.bin`), so `**\/*.txt` needs a `/`.
 */
export function globPattern(glob: string): string {
  return `^${glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*")}$`;
}

/** The rule a specifier falls under (`removed` when a shadowed rule matches), or null for plain JavaScript. */
export function matchModuleRule(rules: ModuleRules, specifier: string): { matcher: ModuleMatcher; removed: boolean } | null {
  const test = (m: ModuleMatcher) => m.patterns.some((p) => new RegExp(p).test(specifier));
  const found = rules.rules.find(test);
  if (found !== undefined) return found.type === "ESModule" || found.type === "CommonJS" ? null : { matcher: found, removed: false };
  const shadowed = rules.removed.find(test);
  return shadowed !== undefined && shadowed.type !== "ESModule" && shadowed.type !== "CommonJS" ? { matcher: shadowed, removed: true } : null;
}

/** wrangler's error for a file that only a shadowed rule matches. */
export function removedRuleMessage(specifier: string, rule: ModuleRule): string {
  return `The file ${specifier} matched a module rule in your configuration (${JSON.stringify(rule)}), but was ignored because a previous rule with the same type was not marked as \`fallthrough = true\`.`;
}

/**
 * The module text a Text, Data or CompiledWasm import becomes: it reads the
 * file when imported, and its default export is a string, an ArrayBuffer or
 * a WebAssembly.Module, as on workerd (worker-bundle.ts puts it in the bundle
 * in place of the import).
 */
export function moduleSource(type: ModuleRuleType, path: string): string {
  const read = `readFileSync(${JSON.stringify(path)})`;
  const head = `import { readFileSync } from "node:fs";\n`;
  if (type === "Text") return `${head}export default ${read}.toString("utf8");\n`;
  if (type === "Data") return `${head}const bytes = ${read};\nexport default bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);\n`;
  if (type === "CompiledWasm") return `${head}export default new WebAssembly.Module(${read});\n`;
  throw new TypeError(`No module source for rule type ${type}.`);
}
