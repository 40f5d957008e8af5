/** Runs the real `torpor` bin as a child process (no sleeping: await exit or the listening line). */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { onTestFinished } from "vitest";

const bin = fileURLToPath(new URL("../bin/torpor.js", import.meta.url));

/** Runs torpor to completion. */
export function runTorpor(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

export interface Server {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts torpor and resolves once stdout names its URL (`Ready on …` or the JSON `Listening` line). */
export function startTorpor(
  args: string[],
  cwd: string,
  timeoutMs = 60_000,
  env: Record<string, string> = {},
  /** Called with all of stderr so far whenever more arrives (to see what it says before it listens). */
  onStderr?: (stderr: string) => void,
  /** Runs the process elsewhere (`ip netns exec <ns>`); it execs node, so the pid is still node's. */
  prefix: string[] = [],
  /** Called with all of stdout so far whenever more arrives (to act on a log line before it listens). */
  onStdout?: (stdout: string) => void,
): Promise<Server> {
  const [command, ...rest] = [...prefix, process.execPath, bin, ...args] as [string, ...string[]];
  const child = spawn(command, rest, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    onStderr?.(stderr);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`No listening line within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`torpor exited (${code}) before listening.\nstderr: ${stderr}`));
    });
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      onStdout?.(stdout);
      const url = /^Ready on (\S+)$/m.exec(stdout)?.[1] ?? /"message":"Listening","url":"([^"]+)"/.exec(stdout)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({
        child,
        url,
        stdout: () => stdout,
        stderr: () => stderr,
        stop: () => {
          child.kill("SIGTERM");
          return exited;
        },
      });
    });
  });
}

/** Writes `files` into a fresh temporary project directory, removed when the test ends. */
export function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-cli-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
