import { describe, expect, it } from "vitest";
import { DEFAULT_MODULE_RULES, globPattern, matchModuleRule, parseModuleRules, removedRuleMessage } from "./module-rules.ts";

describe("parseModuleRules", () => {
  it("has wrangler's defaults: .txt/.html Text, .bin Data, .wasm and .wasm?module CompiledWasm", () => {
    const rules = parseModuleRules([], "w.json");
    expect(rules.warnings).toEqual([]);
    expect(matchModuleRule(rules, "./a.txt")?.matcher.type).toBe("Text");
    expect(matchModuleRule(rules, "../pages/index.html")?.matcher.type).toBe("Text");
    expect(matchModuleRule(rules, "./blob.bin")?.matcher.type).toBe("Data");
    expect(matchModuleRule(rules, "./add.wasm")?.matcher.type).toBe("CompiledWasm");
    expect(matchModuleRule(rules, "./add.wasm?module")?.matcher.type).toBe("CompiledWasm");
    expect(matchModuleRule(rules, "pkg/yoga.wasm")?.matcher.type).toBe("CompiledWasm");
    // JavaScript is Node's; a glob needs the "/" its "**/" asks for, as in wrangler.
    expect(matchModuleRule(rules, "./index.js")).toBeNull();
    expect(matchModuleRule(rules, "a.txt")).toBeNull();
    expect(matchModuleRule(rules, "./a.txt.js")).toBeNull();
  });

  it("puts the config's rules first; a rule without fallthrough ends its type (the defaults of that type go, with wrangler's warning)", () => {
    const rules = parseModuleRules([{ type: "Text", globs: ["**/*.md"] }], "wrangler.jsonc");
    expect(matchModuleRule(rules, "./README.md")?.matcher.type).toBe("Text");
    const txt = matchModuleRule(rules, "./a.txt");
    expect(txt?.removed).toBe(true);
    expect(removedRuleMessage("./a.txt", txt!.matcher.rule)).toBe(
      'The file ./a.txt matched a module rule in your configuration ({"type":"Text","globs":["**/*.txt","**/*.html"]}), but was ignored because a previous rule with the same type was not marked as `fallthrough = true`.',
    );
    expect(rules.warnings).toEqual([
      'wrangler.jsonc: the module rule {"type":"Text","globs":["**/*.md"]} has no fallthrough, so these rules are ignored: {"type":"Text","globs":["**/*.txt","**/*.html"]} (default). Add "fallthrough": true to use them, or "fallthrough": false to silence this.',
    ]);
    // Other types keep their defaults.
    expect(matchModuleRule(rules, "./add.wasm")?.matcher.type).toBe("CompiledWasm");
  });

  it("fallthrough: true keeps the defaults of the type; fallthrough: false drops them without a warning", () => {
    const through = parseModuleRules([{ type: "Data", globs: ["**/*.dat"], fallthrough: true }], "w.json");
    expect(through.warnings).toEqual([]);
    expect(matchModuleRule(through, "./x.dat")?.matcher.type).toBe("Data");
    expect(matchModuleRule(through, "./x.bin")).toMatchObject({ removed: false, matcher: { type: "Data" } });
    const silent = parseModuleRules([{ type: "Data", globs: ["**/*.dat"], fallthrough: false }], "w.json");
    expect(silent.warnings).toEqual([]);
    expect(matchModuleRule(silent, "./x.bin")?.removed).toBe(true);
  });

  it("a config rule can make a default extension another type (first match wins)", () => {
    const rules = parseModuleRules([{ type: "Data", globs: ["**/*.txt"] }], "w.json");
    expect(matchModuleRule(rules, "./raw.txt")?.matcher.type).toBe("Data");
    expect(matchModuleRule(rules, "./page.html")?.matcher.type).toBe("Text");
  });

  it("globs: * is any run of characters (slashes too), everything else literal", () => {
    expect(new RegExp(globPattern("**/*.wasm?module")).test("./a.wasm?module")).toBe(true);
    expect(new RegExp(globPattern("**/*.wasm?module")).test("./a.wasmXmodule")).toBe(false);
    expect(new RegExp(globPattern("assets/*.txt")).test("assets/deep/a.txt")).toBe(true);
    expect(new RegExp(globPattern("**/*.(txt)")).test("./a.(txt)")).toBe(true);
    expect(DEFAULT_MODULE_RULES.map((r) => r.type)).toEqual(["Text", "Data", "CompiledWasm"]);
  });
});
