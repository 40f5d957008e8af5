import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, test } from "vitest";
import { checkLayers, LAYERS } from "../../../scripts/check-layers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A throwaway source tree: path → contents. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "torpor-layers-"));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test("core's own import graph has no upward import and no cycle", () => {
  expect(checkLayers(fileURLToPath(new URL("../src", import.meta.url)))).toEqual([]);
});

test("an upward import fails, a type-only one included, and so does every cycle", () => {
  const root = tree({
    "leaf.ts": 'import type { Host } from "./object/host.ts";\nexport type Leaf = Host;\n',
    "object/host.ts": 'import type { State } from "./state.ts";\nexport interface Host { state: State }\n',
    "object/state.ts": 'import type { Host } from "./host.ts";\nexport interface State { host: Host }\n',
    "stubs/stub.ts": 'export { x } from "../object/host.ts";\n',
    "stubs/self.ts": 'import "./self.ts";\n',
    "object/lazy.ts": 'export const load = () => import("../stubs/stub.ts");\n',
    "object/host.test.ts": 'import "../stubs/stub.ts";\n',
    "index.ts": 'export * from "./stubs/stub.ts";\n',
  });
  const messages = checkLayers(root, ["", "object", "stubs"]).map((p) => `${p.kind}: ${p.message}`);
  expect(messages).toEqual([
    expect.stringMatching(/^upward: leaf\.ts imports object\/host\.ts: the root may not import from object\//),
    expect.stringMatching(/^upward: object\/lazy\.ts imports stubs\/stub\.ts: object\/ may not import from stubs\//),
    "cycle: import cycle: object/host.ts -> object/state.ts -> object/host.ts",
    "cycle: import cycle: stubs/self.ts -> stubs/self.ts",
  ]);
});

test("a folder missing from the layer list fails, naming where to add it", () => {
  const root = tree({ "placement/table.ts": "export const table = 1;\n" });
  expect(checkLayers(root, [""])).toEqual([expect.objectContaining({ kind: "unknown-folder", message: expect.stringContaining("placement/") })]);
});

test("docs/architecture.md's layer map lists every layer folder, lowest first, and nothing else", () => {
  const doc = readFileSync(fileURLToPath(new URL("../../../docs/architecture.md", import.meta.url)), "utf8");
  const section = doc.slice(doc.indexOf("## Layers"), doc.indexOf("\n## ", doc.indexOf("## Layers") + 1));
  // The first cell of each table row: "root (leaves)" or a folder in backticks.
  const mapped = [...section.matchAll(/^\| (root \(leaves\)|`([a-z-]+)\/`) \|/gm)].map((m) => m[2] ?? "");
  const src = fileURLToPath(new URL("../src", import.meta.url));
  const folders = readdirSync(src).filter((entry) => statSync(join(src, entry)).isDirectory());
  expect(mapped).toEqual(LAYERS);
  expect(["", ...folders].sort()).toEqual([...LAYERS].sort());
});
