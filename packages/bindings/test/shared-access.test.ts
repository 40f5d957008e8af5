// KV, D1 and R2 files are shared by the worker processes of one cluster
// (torpor start --workers N). These tests run several real processes on one
// data directory at once and check that no write is lost or torn and no
// process fails on another's lock.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { silentLogger } from "@torpor/core";
import { expect, test } from "vitest";
import { createBindings } from "../src/plugins.ts";
import { tempDir } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
// tsx (a root dev dependency) runs the child's TypeScript: Node 20 cannot strip types.
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const child = join(here, "fixtures", "shared-writer.ts");

/** Runs `processes` writers at once; resolves with each one's report (a writer that exits non-zero fails the test). */
function runWriters(dataDir: string, kind: string, processes: number, count: number): Promise<Array<{ index: number; errors: string[] }>> {
  return Promise.all(
    Array.from(
      { length: processes },
      (_, index) =>
        new Promise<{ index: number; errors: string[] }>((resolve, reject) => {
          const proc = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, child, dataDir, kind, String(index), String(count)], {
            stdio: ["ignore", "pipe", "pipe"],
          });
          let out = "";
          let err = "";
          proc.stdout.on("data", (c: Buffer) => (out += c));
          proc.stderr.on("data", (c: Buffer) => (err += c));
          proc.on("exit", (code) => {
            if (code === 0) resolve(JSON.parse(out.trim()) as { index: number; errors: string[] });
            else reject(new Error(`writer ${index} exited ${code}: ${err}`));
          });
        }),
    ),
  );
}

test("KV: four processes writing one namespace at once lose no write and see their own", { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  const processes = 4;
  const count = 150;
  const reports = await runWriters(dataDir, "kv", processes, count);
  expect(reports.flatMap((r) => r.errors)).toEqual([]);
  const bound = await createBindings({ kv_namespaces: [{ binding: "KV", id: "shared" }] }, { dataDir, configDir: dataDir, logger: silentLogger });
  try {
    const kv = bound.env.KV as {
      list(o: object): Promise<{ keys: Array<{ name: string }>; list_complete: boolean; cursor?: string }>;
      get(k: string): Promise<string | null>;
    };
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await kv.list({ prefix: "p", ...(cursor !== undefined ? { cursor } : {}) });
      names.push(...page.keys.map((k) => k.name));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    expect(names).toHaveLength(processes * count);
    for (let p = 0; p < processes; p++) expect(await kv.get(`p${p}:${String(count - 1).padStart(5, "0")}`)).toBe(`${p}/${count - 1}`);
    // The last write of one of them, whole.
    expect(await kv.get("last")).toMatch(new RegExp(`^[0-${processes - 1}]/${count - 1}$`));
  } finally {
    await bound.close();
  }
});
