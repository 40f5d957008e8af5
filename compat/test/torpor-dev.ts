// Runs `torpor dev` as a user does (a child process of the CLI, port 0, a fresh
// data directory) and reads back the URL it prints, for the differential tests
// of whole projects (web.test.ts, services.test.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Target } from "./harness.ts";

const bin = fileURLToPath(new URL("../../packages/cli/bin/torpor.js", import.meta.url));

/** `torpor dev --port 0 --persist-to <fresh dir> ...args` in `cwd`; stop() ends it with SIGTERM and removes the data. */
export async function startTorporDev(cwd: string, args: string[] = []): Promise<Target & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "torpor-compat-dev-"));
  const child: ChildProcess = spawn(process.execPath, [bin, "dev", "--port", "0", "--persist-to", dataDir, ...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  child.stderr!.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const found = /^Ready on (\S+)$/m.exec(stdout)?.[1];
      if (found !== undefined) resolve(found.replace(/\/$/, ""));
    });
    child.once("exit", (code) => reject(new Error(`torpor dev exited (${code}): ${logs.join("")}`)));
  });
  return {
    name: "torpor",
    url,
    logs,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
