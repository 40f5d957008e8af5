import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { lockDataDir } from "../src/index.ts";

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
