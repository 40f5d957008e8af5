import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, expect, it } from "vitest";
import { WORKER_MALLOC_ENV } from "./malloc-env.ts";
import { WorkerProcess } from "./worker-process.ts";

// A real forked process in place of the worker program: it says ready, then reports its malloc variables.
const dir = mkdtempSync(join(tmpdir(), "torpor-malloc-env-"));
const script = join(dir, "report-env.mjs");
writeFileSync(
  script,
  `process.on("message", (m) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("MALLOC_") || k === "GLIBC_TUNABLES"));
    if (m?.t === "init") process.send({ t: "ready" }, () => process.send({ t: "env", env }));
    if (m?.t === "stop") process.exit(0);
  });`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The supervisor's own environment, as the user started it: restored after each test.
const names = [...Object.keys(WORKER_MALLOC_ENV), "GLIBC_TUNABLES"];
const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of names) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

async function forkedEnv(): Promise<Record<string, string>> {
  const proc = new WorkerProcess({ script, argv: [], index: 0, serial: 1, slots: [], startTimeoutMs: 30_000 });
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

const unset = () => {
  for (const name of names) delete process.env[name];
};

it("a forked worker gets the malloc settings", async () => {
  unset();
  expect(Object.keys(WORKER_MALLOC_ENV).length).toBeGreaterThan(0);
  const env = await forkedEnv();
  expect(env).toEqual(Object.fromEntries(Object.entries(WORKER_MALLOC_ENV).map(([name, { value }]) => [name, value])));
});

it("a malloc variable the user set is kept, even empty", async () => {
  unset();
  const [first, ...rest] = Object.keys(WORKER_MALLOC_ENV);
  process.env[first!] = "7";
  for (const name of rest) process.env[name] = "";
  const env = await forkedEnv();
  expect(env).toEqual({ [first!]: "7", ...Object.fromEntries(rest.map((name) => [name, ""])) });
});

it("a tunable the user set in GLIBC_TUNABLES is not set again through its variable", async () => {
  unset();
  const tunables = Object.values(WORKER_MALLOC_ENV)
    .map(({ tunable }) => `${tunable}=3`)
    .join(":");
  process.env.GLIBC_TUNABLES = `glibc.malloc.tcache_count=0:${tunables}`;
  const env = await forkedEnv();
  expect(env).toEqual({ GLIBC_TUNABLES: process.env.GLIBC_TUNABLES });
});
