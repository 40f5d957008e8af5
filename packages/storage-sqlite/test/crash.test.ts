import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
import { expect, it } from "vitest";
import { sqliteStorage } from "../src/index.ts";
import { OBJECTS, crashObjectKey } from "./fixtures/crash-shared.ts";
import { openObject } from "./driver.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../..");
// tsx (a root dev dependency) runs the child's TypeScript: Node 20 cannot strip types.
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const child = join(here, "fixtures/crash-child.ts");

/** Runs the child until it has acknowledged `killAfter` batches, SIGKILLs it, and returns the last ack. */
async function runAndKill(dir: string, killAfter: number): Promise<number> {
  const proc = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, child, dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on("exit", (code, signal) => resolve(signal ?? code)));
  let lastAck = 0;
  for await (const line of createInterface({ input: proc.stdout })) {
    const m = /^ack (\d+)$/.exec(line);
    if (m === null) continue;
    lastAck = Number(m[1]);
    if (lastAck >= killAfter && proc.exitCode === null) proc.kill("SIGKILL");
  }
  const how = await exited;
  if (how !== "SIGKILL") throw new Error(`crash child ended with ${String(how)} before the kill:\n${stderr}`);
  return lastAck;
}

it("keeps every acknowledged batch and no partial batch across SIGKILL", { timeout: 60_000 }, async () => {
  const deadline = Date.now() + 30_000;
  for (let round = 0; round < 6 && Date.now() < deadline; round++) {
    const dir = mkdtempSync(join(tmpdir(), "torpor-crash-"));
    try {
      const killAfter = 1 + Math.floor(Math.random() * 400);
      const lastAck = await runAndKill(dir, killAfter);
      expect(lastAck).toBeGreaterThanOrEqual(killAfter);
      const provider = sqliteStorage({ dir });
      for (let o = 0; o < OBJECTS; o++) {
        const s = openObject(provider, crashObjectKey(o));
        // The newest batch for this object that was acknowledged must be there.
        let acked = lastAck;
        while (acked > 0 && acked % OBJECTS !== o) acked--;
        const values = [0, 1, 2, 3, 4].map((k) => s.api.kv.get<{ n: number }>(`k${k}`)?.n ?? 0);
        const rows = s.api.sql
          .exec<{ n: number }>("SELECT n FROM log ORDER BY n")
          .toArray()
          .map((r) => r.n);
        const newest = rows.at(-1) ?? 0;
        const context = `round ${round}, object ${o}, last ack ${lastAck}`;
        expect(new Set(values).size, context).toBe(1); // all five keys from one batch
        expect(values[0], context).toBe(newest); // KV and SQL of that batch together
        expect(newest, context).toBeGreaterThanOrEqual(acked);
        // At most the one batch in flight at the kill may have landed unacknowledged.
        expect(newest, context).toBeLessThanOrEqual(lastAck + OBJECTS);
        const expected = [];
        for (let n = o === 0 ? OBJECTS : o; n <= newest; n += OBJECTS) expected.push(n);
        expect(rows, context).toEqual(expected); // no batch missing in between
        const alarmBatch = [...expected].reverse().find((n) => n % 7 === 0);
        expect(s.alarmTime(), context).toBe(alarmBatch ?? null);
        s.close();
      }
      provider.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
