import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { afterEach, expect, test, vi } from "vitest";
import { lockDataDir, lockDataDirWhenFree } from "../src/index.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-lock-"));
  dirs.push(dir);
  return dir;
}

test("a held lock refuses a second taker (in this process too) until released", () => {
  const dir = join(tempDir(), "nested", "state");
  const lock = lockDataDir(dir);
  expect(readFileSync(join(dir, "torpor.pid"), "utf8").trim()).toBe(String(process.pid));
  expect(() => lockDataDir(dir)).toThrow(
    expect.objectContaining({ code: "ERR_DATA_DIR_LOCKED", message: expect.stringContaining(`locked by pid ${process.pid} (another torpor start?)`) }),
  );
  lock.release();
  lock.release();
  const again = lockDataDir(dir);
  again.release();
});

test("a pid file left by a dead process does not block: the lock is the OS's, the pid file is rewritten", () => {
  const dir = tempDir();
  // A pid that cannot be running (above the kernel's pid_max).
  writeFileSync(join(dir, "torpor.pid"), "99999999\n");
  const lock = lockDataDir(dir);
  expect(readFileSync(join(dir, "torpor.pid"), "utf8").trim()).toBe(String(process.pid));
  lock.release();
});

/** A separate process that joins `dir` as a member (a cluster worker) and stays until its stdin closes. */
async function member(dir: string): Promise<{ pid: number; exit(): Promise<void> }> {
  const source = new URL("../src/index.ts", import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      "--conditions=@torpor/source",
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { joinDataDir } = await import(${JSON.stringify(source)}); globalThis.member = joinDataDir(${JSON.stringify(dir)}); process.stdout.write("joined\\n"); process.stdin.resume(); process.stdin.on("end", () => process.exit(0));`,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("joined") && resolve());
    child.once("exit", (code) => reject(new Error(`member exited (${code}) before joining`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    pid: child.pid!,
    exit: () => {
      child.stdin!.end();
      return exited;
    },
  };
}

test("a process that joined the directory (a worker whose supervisor died) keeps every new server out until it exits; lockDataDirWhenFree waits for it", async () => {
  const dir = tempDir();
  const worker = await member(dir);
  expect(() => lockDataDir(dir)).toThrow(
    expect.objectContaining({ code: "ERR_DATA_DIR_LOCKED", message: expect.stringContaining(`still used by pids ${worker.pid}`) }),
  );
  // The refused attempt left no lock behind: once the member is gone, the next one gets it.
  let waited = "";
  const waiting = lockDataDirWhenFree(dir, 30_000, (reason) => (waited = reason));
  await vi.waitFor(() => expect(waited).toContain(`pids ${worker.pid}`));
  await worker.exit();
  const lock = await waiting;
  expect(readFileSync(join(dir, "torpor.pid"), "utf8").trim()).toBe(String(process.pid));
  // Members of the holder's own server join while it holds the lock.
  const own = await member(dir);
  await own.exit();
  lock.release();
}, 120_000);

test("lockDataDirWhenFree gives up after its wait with the same error", async () => {
  const dir = tempDir();
  const worker = await member(dir);
  try {
    await expect(lockDataDirWhenFree(dir, 200)).rejects.toMatchObject({ code: "ERR_DATA_DIR_LOCKED" });
  } finally {
    await worker.exit();
  }
});
