/** A cluster running one Worker with one Durable Object class, whose fetch runs a named scenario and answers its outcome as JSON. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Server, startTorpor } from "./helpers.ts";

/** Writes the project (`worker.js`, one class bound as `binding`) in a new directory and runs `torpor start` with `args` there. */
export async function startScenarios(worker: string, binding: string, className: string, args: string[]): Promise<{ dir: string; server: Server }> {
  const dir = mkdtempSync(join(tmpdir(), "torpor-cluster-scenarios-"));
  writeFileSync(join(dir, "worker.js"), worker);
  writeFileSync(
    join(dir, "wrangler.json"),
    JSON.stringify({
      main: "worker.js",
      compatibility_date: "2026-04-07",
      durable_objects: { bindings: [{ name: binding, class_name: className }] },
      migrations: [{ tag: "v1", new_sqlite_classes: [className] }],
    }),
  );
  const server = await startTorpor(["start", ...args, "--port", "0", "--persist-to", join(dir, "data")], dir, 120_000);
  return { dir, server };
}

/** One scenario on a fresh connection (the supervisor spreads connections over the workers). */
export function visit(server: Server, path: string): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    get(`${server.url}/${path}`, { agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    }).on("error", reject);
  });
}
