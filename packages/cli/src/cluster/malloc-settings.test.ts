import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { WORKER_MALLOC_ENV, workerMallocEnv } from "./malloc-settings.ts";
import { WorkerProcess } from "./worker-process.ts";

// A real forked process in place of the worker program: it says ready, then reports the malloc
// variables glibc saw in its environment when it started.
const dir = mkdtempSync(join(tmpdir(), "torpor-malloc-"));
const script = join(dir, "report-env.mjs");
writeFileSync(
  script,
  `process.on("message", (m) => {
    if (m?.t === "init") process.send({ t: "ready" }, () => process.send({ t: "env", env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("MALLOC_") || k === "GLIBC_TUNABLES")) }));
    if (m?.t === "stop") process.exit(0);
  });`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Forks the reporting script as the supervisor forks a worker, with `env` as the supervisor's environment. */
async function workerEnvironment(env: Record<string, string | undefined>): Promise<Record<string, string>> {
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let proc: WorkerProcess;
  try {
    proc = new WorkerProcess({ script, argv: [], index: 0, serial: 1, slots: [], startTimeoutMs: 30_000 });
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  const reported = new Promise<Record<string, string>>((resolve) => {
    proc.onMessage = (m) => {
      if ((m as { t?: string }).t === "env") resolve((m as { env: Record<string, string> }).env);
    };
  });
  await proc.ready;
  const seen = await reported;
  await proc.stop(5_000);
  return seen;
}

const none = Object.fromEntries(Object.keys(WORKER_MALLOC_ENV).map((k) => [k, undefined]));

it("a forked worker starts with the supervisor's malloc settings", async () => {
  expect(Object.keys(WORKER_MALLOC_ENV).length).toBeGreaterThan(0);
  const seen = await workerEnvironment({ ...none, GLIBC_TUNABLES: undefined });
  expect(seen).toEqual(WORKER_MALLOC_ENV);
});

it("a user's own malloc settings win: none of the supervisor's is added", async () => {
  expect(await workerEnvironment({ ...none, MALLOC_ARENA_MAX: "4" })).toEqual({ MALLOC_ARENA_MAX: "4" });
  expect(await workerEnvironment({ ...none, GLIBC_TUNABLES: "glibc.malloc.trim_threshold=65536" })).toEqual({
    GLIBC_TUNABLES: "glibc.malloc.trim_threshold=65536",
  });
  // Tunables of something other than malloc are no choice about malloc.
  expect(workerMallocEnv({ GLIBC_TUNABLES: "glibc.pthread.rseq=0" })).toEqual(WORKER_MALLOC_ENV);
});
