/**
 * Ctrl-C on the repository's scripts: a terminal sends SIGINT to the whole
 * foreground process group (pnpm, the shell pnpm starts, node). After a clean
 * shutdown every one of them must exit 0, so pnpm prints no
 * "ELIFECYCLE Command failed". (A script run through `sh -c` without `exec`
 * leaves dash in between, which dies of the SIGINT itself.)
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { removeDir, tempDir } from "./helpers.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const STARTUP_MS = 60_000;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Run {
  code: number | null;
  signal: string | null;
  output: string;
}

/** Starts `pnpm <args>` in its own process group, waits for `ready` on stdout, sends SIGINT to the group. */
async function interrupt(args: string[], ready: RegExp, env: Record<string, string>): Promise<Run> {
  const child = spawn("pnpm", args, { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let output = "";
  let exited = false;
  cleanups.push(() => {
    if (!exited) process.kill(-child.pid!, "SIGKILL");
  });
  const done = new Promise<Run>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      resolve({ code, signal, output });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pnpm ${args.join(" ")} did not print ${ready} within ${STARTUP_MS} ms:\n${output}`)), STARTUP_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void done.then(() => {
      clearTimeout(timer);
      reject(new Error(`pnpm ${args.join(" ")} exited before it was ready:\n${output}`));
    });
  });
  process.kill(-child.pid!, "SIGINT");
  return done;
}

const DATA = "<data dir>";
const cases: Array<{ script: string; args: string[]; ready: RegExp; env: Record<string, string>; stopped: RegExp }> = [
  { script: "the chat", args: ["start"], ready: /Torpor chat on http:\/\//, env: { PORT: "0", TORPOR_DATA: DATA }, stopped: /SIGINT: closing/ },
  {
    script: "the chat in dev mode, with its admin endpoint",
    args: ["dev"],
    ready: /Dev mode: rooms hibernate after 5 s idle; admin endpoint on http:\/\//,
    env: { PORT: "0", TORPOR_DATA: DATA },
    stopped: /SIGINT: closing/,
  },
  {
    script: "the CLI from source",
    args: ["torpor", "dev", "-c", "examples/cloudflare-worker/wrangler.jsonc", "--port", "0", "--persist-to", DATA],
    ready: /Ready on http:\/\//,
    env: {},
    stopped: /Stopped/,
  },
];

it.each(cases)(
  "pnpm $args.0 ($script) exits 0 on Ctrl-C, without ELIFECYCLE",
  async ({ args, ready, env, stopped }) => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const withDir = (value: string) => (value === DATA ? dir : value);
    const run = await interrupt(args.map(withDir), ready, Object.fromEntries(Object.entries(env).map(([k, v]) => [k, withDir(v)])));
    expect(run.output).toMatch(stopped);
    expect(run.output).not.toMatch(/ELIFECYCLE/);
    expect(run).toMatchObject({ code: 0, signal: null });
  },
  60_000,
);
