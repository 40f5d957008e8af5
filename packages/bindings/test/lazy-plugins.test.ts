// A process that reads the config (a cluster supervisor) or binds nothing of a kind loads none of that kind's
// implementation: each plugin imports its implementation in `create`, and `@torpor/bindings/plugins` exports
// the plugins without them (issue 23 item 4: load in each process only what it uses). Real child processes
// record every module they resolve.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect, test } from "vitest";
import { tempDir } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
// tsx (a root dev dependency) runs the child's TypeScript: Node 20 cannot strip types.
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const child = join(here, "fixtures", "loaded-modules.ts");

interface Report {
  names: string[];
  steps: Array<{ step: string; bound: string[]; loaded: string[] }>;
}

function loadedModules(): Promise<Report> {
  const dataDir = tempDir();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, child, dataDir], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (c: Buffer) => (out += c));
    proc.stderr.on("data", (c: Buffer) => (err += c));
    proc.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as Report) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

/** The implementation modules of each kind: what a process that does not bind it must not load. */
const IMPLEMENTATIONS: Record<string, string[]> = {
  kv: ["kv/kv-namespace.ts", "kv/kv-store.ts"],
  d1: ["d1/d1-api.ts", "d1/d1-engine.ts"],
  r2: ["r2/bucket-store.ts", "r2/r2-bucket.ts"],
  assets: ["assets/asset-server.ts", "assets/run-worker-first.ts"],
};
const ALL = Object.values(IMPLEMENTATIONS).flat();

test("reading the plugins loads no binding implementation; making one kind's bindings loads that kind's only", { timeout: 180_000 }, async () => {
  const { names, steps } = await loadedModules();
  expect(names).toEqual(["KV", "DB", "R2", "ASSETS"]);
  const [imported, ...made] = steps;
  expect(imported!.loaded).toContain("plugins-entry.ts");
  expect(imported!.loaded.filter((m) => ALL.includes(m))).toEqual([]);
  // Each kind in turn: what it adds is its own implementation, nothing of a kind not made yet.
  let before = imported!.loaded;
  expect(made.map((s) => s.step)).toEqual(Object.keys(IMPLEMENTATIONS));
  for (const step of made) {
    expect(step.bound).toHaveLength(1);
    const added = step.loaded.filter((m) => !before.includes(m) && ALL.includes(m)).sort();
    expect({ kind: step.step, added }).toEqual({ kind: step.step, added: [...IMPLEMENTATIONS[step.step]!].sort() });
    before = step.loaded;
  }
});
