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
async function writeUntilKilled(dir: string, killAfter: number, weaken?: string): Promise<Set<number>> {
  const env = weaken === undefined ? process.env : { ...process.env, TORPOR_TEST_WEAKEN: weaken };
  const proc = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, child, dir], { stdio: ["ignore", "pipe", "pipe"], env });
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

/**
 * One crash round: writes until SIGKILL at a random point, reopens the data,
 * and returns what broke: acknowledged writes that are gone, and events
 * that are half there.
 */
async function crashRound(weaken?: string): Promise<{ acked: number; problems: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "torpor-runtime-crash-"));
  try {
    const acked = await writeUntilKilled(dir, 50 + Math.floor(Math.random() * 500), weaken);
    const runtime = new Runtime({ objects: { LEDGER: Ledger }, storage: sqliteStorage({ dir }), logger: silentLogger });
    const [rows, kv] = await runtime.hostFor(runtime.namespace("LEDGER").getByName("ledger")).call((instance) => {
      const storage = (instance as unknown as { ctx: { storage: import("@torpor/core").DurableObjectStorage } }).ctx.storage;
      // A kill before the first commit leaves no table at all (everything acknowledged is then lost).
      const hasLog = storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'").toArray().length > 0;
      const rows = hasLog
        ? storage.sql
            .exec<{ n: number }>("SELECT n FROM log ORDER BY n")
            .toArray()
            .map((r) => r.n)
        : [];
      return Promise.all([rows, storage.get(["a", "b", "c"])]);
    });
    await runtime.close();
    const problems: string[] = [];
    const stored = new Set(rows);
    for (const n of acked) if (!stored.has(n)) problems.push(`ack ${n} lost`);
    // Rows form a prefix 1..max (events commit in order), and KV holds the same last event.
    if (rows.some((n, i) => n !== i + 1)) problems.push("rows are not 1..max");
    const last = rows.at(-1);
    const values = [...(kv as Map<string, number>).values()];
    if (rows.length > 0 && values.some((v) => v !== last)) problems.push(`KV ${values.join(",")} is not the last event ${last} (half an event)`);
    return { acked: acked.size, problems };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it("every write acknowledged over a WebSocket survives SIGKILL; no event is half-written", { timeout: 60_000 }, async () => {
  const deadline = Date.now() + 25_000;
  for (let round = 0; round < 4 && Date.now() < deadline; round++) {
    const { acked, problems } = await crashRound();
    expect(problems, `round ${round}: ${acked} acked`).toEqual([]);
  }
});

it("the crash check fails when acks leave before their commit (durability weakened on purpose)", { timeout: 60_000 }, async () => {
  // With the output gate open while nothing is committed, a kill after the acks finds acknowledged writes missing.
  const { acked, problems } = await crashRound("ack-before-commit");
  expect(acked).toBeGreaterThan(0);
  expect(problems.filter((p) => p.endsWith("lost")).length, problems.join("; ")).toBeGreaterThan(0);
});
