// `pnpm check:layers`: the import graph of @torpor/core must read as its architecture.
// Each folder of packages/core/src is a layer, and a module may import only from its own
// folder or from layers below it (LAYERS, lowest first; the modules at the root are the
// leaves). Every import counts (`import type`, `export … from`, dynamic `import()`), and no
// module may take part in a cycle, type imports included. Tests (`*.test.ts`) are left out:
// they drive the whole stack on purpose. The root `index.ts` is the package's entry and may
// re-export from anywhere.
//
// A script rather than dependency-cruiser or madge: the rule is one ordered list, TypeScript's
// own `preProcessFile` already finds every import form (type-only included, which madge skips
// by default), and it adds no dependency to install in CI. docs/architecture.md has the map.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** The layers of packages/core/src, lowest first. "" is the root (the leaves). */
export const LAYERS = ["", "storage", "ids", "websocket", "object", "http", "stubs", "placement", "runtime", "cluster", "cloudflare"];

/** One broken rule, with the modules it names (paths relative to the checked folder). */
export interface LayerProblem {
  kind: "upward" | "cycle" | "unknown-folder" | "missing";
  message: string;
}

/** Checks every module under `root` against `layers`; returns the problems (none: the graph is clean). */
export function checkLayers(root: string, layers: readonly string[] = LAYERS): LayerProblem[] {
  const problems: LayerProblem[] = [];
  const files = sourceFiles(root);
  const graph = new Map<string, string[]>();
  const rank = (file: string): number => layers.indexOf(layerOf(file));
  const name = (layer: string) => (layer === "" ? "the root" : `${layer}/`);
  for (const file of files) {
    const layer = layerOf(file);
    if (!layers.includes(layer)) {
      problems.push({
        kind: "unknown-folder",
        message: `${file}: the folder ${layer}/ is not a layer; add it to LAYERS in scripts/check-layers.ts, in its place.`,
      });
    }
  }
  for (const file of files) {
    const edges: string[] = [];
    const text = readFileSync(join(root, file), "utf8");
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      const specifier = imported.fileName;
      if (!specifier.startsWith(".")) continue;
      const target = relative(root, resolve(root, dirname(file), specifier))
        .split(sep)
        .join("/");
      if (!files.includes(target)) {
        problems.push({ kind: "missing", message: `${file} imports ${specifier}, which is not a module under ${root}.` });
        continue;
      }
      edges.push(target);
      // A module in an unknown folder is reported once, above, not for each of its imports.
      if (file === "index.ts" || layerOf(target) === layerOf(file) || rank(file) === -1 || rank(target) === -1) continue;
      if (rank(target) > rank(file)) {
        problems.push({
          kind: "upward",
          message: `${file} imports ${target}: ${name(layerOf(file))} may not import from ${name(layerOf(target))}, a layer above it (lowest first: ${layers.map(name).join(" < ")}).`,
        });
      }
    }
    graph.set(file, edges);
  }
  for (const cycle of cycles(graph)) {
    problems.push({ kind: "cycle", message: `import cycle: ${[...cycle, cycle[0]].join(" -> ")}` });
  }
  return problems;
}

/** The layer of a module: its first folder under the root, or "" for a module at the root. */
function layerOf(file: string): string {
  const slash = file.indexOf("/");
  return slash === -1 ? "" : file.slice(0, slash);
}

function sourceFiles(root: string, dir = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir)).sort()) {
    const path = dir === "" ? entry : `${dir}/${entry}`;
    if (statSync(join(root, path)).isDirectory()) out.push(...sourceFiles(root, path));
    else if (entry.endsWith(".ts") && !entry.endsWith(".test.ts") && !entry.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Every strongly connected group of more than one module (or a module importing itself), each as a path around it. */
function cycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm (recursive: the graph has a few hundred edges).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(pathThrough(group.reverse(), graph));
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The shortest cycle from the group's first member back to it, for the message. */
function pathThrough(group: string[], graph: Map<string, string[]>): string[] {
  const members = new Set(group);
  const start = group[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const to of graph.get(at) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [at];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
        return path;
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, at);
        queue.push(to);
      }
    }
  }
  return group;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL("../packages/core/src", import.meta.url));
  const problems = checkLayers(root);
  if (problems.length > 0) {
    console.error("The import graph of packages/core/src breaks its layers:");
    for (const problem of problems) console.error(`  ${problem.message}`);
    console.error(`${problems.length} problem(s). The layers and what each may import: docs/architecture.md ("Layers").`);
    process.exit(1);
  }
  console.log(`packages/core/src: no upward import, no cycle (layers: ${LAYERS.map((l) => l || "(root)").join(" < ")}).`);
}
