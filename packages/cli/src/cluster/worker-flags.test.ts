import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { WORKER_V8_FLAGS, workerExecArgv } from "./worker-flags.ts";
import { WorkerProcess } from "./worker-process.ts";

// A real forked process in place of the worker program: it says ready, then reports its flags.
const dir = mkdtempSync(join(tmpdir(), "torpor-flags-"));
const script = join(dir, "report-flags.mjs");
writeFileSync(
  script,
  `process.on("message", (m) => {
    if (m?.t === "init") process.send({ t: "ready" }, () => process.send({ t: "flags", execArgv: process.execArgv }));
    if (m?.t === "stop") process.exit(0);
  });`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function forkedExecArgv(): Promise<string[]> {
  const proc = new WorkerProcess({ script, argv: [], index: 0, serial: 1, slots: [], startTimeoutMs: 30_000 });
  const reported = new Promise<string[]>((resolve) => {
    proc.onMessage = (m) => {
      if ((m as { t?: string }).t === "flags") resolve((m as { execArgv: string[] }).execArgv);
    };
  });
  await proc.ready;
  const seen = await reported;
  await proc.stop(5_000);
  return seen;
}

it("a forked worker runs with the supervisor's flags and the young-generation flags", async () => {
  expect(WORKER_V8_FLAGS.length).toBeGreaterThan(0);
  const seen = await forkedExecArgv();
  expect(seen).toEqual([...process.execArgv, ...WORKER_V8_FLAGS]);
});

it("a user's own young-generation flags win", () => {
  expect(workerExecArgv(["--max-semi-space-size=8"], "")).toEqual(["--max-semi-space-size=8"]);
  expect(workerExecArgv([], "--max_semi_space_size=4 --enable-source-maps")).toEqual([]);
  expect(workerExecArgv(["--enable-source-maps"], "")).toEqual(["--enable-source-maps", ...WORKER_V8_FLAGS]);
});
