import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect, it } from "vitest";
import { WebSocket as WsClient } from "ws";
import { Runtime, silentLogger } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";
import { Ledger } from "./fixtures/runtime-crash-child.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../..");
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const child = join(here, "fixtures/runtime-crash-child.ts");

/** Streams writes to the child (many in flight), SIGKILLs it after `killAfter` acks, returns the acked numbers. */
async function writeUntilKilled(dir: string, killAfter: number): Promise<Set<number>> {
  const proc = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, child, dir], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => proc.on("exit", (_code, signal) => resolve(signal)));
  let port = 0;
  for await (const line of createInterface({ input: proc.stdout })) {
    const m = /^listening (\d+)$/.exec(line);
    if (m !== null) {
      port = Number(m[1]);
      break;
    }
  }
  const acked = new Set<number>();
  const ws = new WsClient(`ws://127.0.0.1:${port}/LEDGER/ledger`);
  ws.on("error", () => {});
  await new Promise((r) => ws.once("open", r));
  let next = 1;
  const pump = () => {
    // Keep 32 writes in flight so the kill lands mid-batch.
    while (next - acked.size <= 32 && ws.readyState === ws.OPEN) ws.send(String(next++));
  };
  ws.on("message", (data) => {
    acked.add(Number(/^ack (\d+)$/.exec(data.toString())![1]));
    if (acked.size >= killAfter && proc.exitCode === null) proc.kill("SIGKILL");
    else pump();
  });
  pump();
  await new Promise((r) => ws.once("close", r));
  expect(await exited).toBe("SIGKILL");
  return acked;
}

it("every write acknowledged over a WebSocket survives SIGKILL; no event is half-written", { timeout: 60_000 }, async () => {
  const deadline = Date.now() + 25_000;
  for (let round = 0; round < 4 && Date.now() < deadline; round++) {
    const dir = mkdtempSync(join(tmpdir(), "torpor-runtime-crash-"));
    try {
      const acked = await writeUntilKilled(dir, 50 + Math.floor(Math.random() * 500));
      const runtime = new Runtime({ objects: { LEDGER: Ledger }, storage: sqliteStorage({ dir }), logger: silentLogger });
      const [rows, kv] = await runtime.hostFor(runtime.namespace("LEDGER").getByName("ledger")).call((instance) => {
        const storage = (instance as unknown as { ctx: { storage: import("@torpor/core").DurableObjectStorage } }).ctx.storage;
        return Promise.all([storage.sql.exec<{ n: number }>("SELECT n FROM log ORDER BY n").toArray().map((r) => r.n), storage.get(["a", "b", "c"])]);
      });
      await runtime.close();
      const context = `round ${round}: ${acked.size} acked, ${rows.length} rows`;
      for (const n of acked) expect(rows.includes(n), `${context}: ack ${n} lost`).toBe(true);
      // Rows form a prefix 1..max (events commit in order), and KV holds the same last event.
      expect(rows, context).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
      const last = rows.at(-1);
      expect([...(kv as Map<string, number>).values()], context).toEqual([last, last, last]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
