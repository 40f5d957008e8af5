import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, type Clock } from "@torpor/core";
import { afterEach } from "vitest";
import type { BindingContext } from "../src/binding-plugin.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh data directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-bindings-"));
  dirs.push(dir);
  return dir;
}

/** A binding context on a fresh data directory (or the given one), with an optional clock. */
export function bindingContext(dataDir = tempDir(), clock?: Clock): BindingContext {
  return { dataDir, configDir: dataDir, logger: silentLogger, ...(clock !== undefined ? { clock } : {}) };
}
