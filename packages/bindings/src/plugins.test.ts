import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@torpor/core";
import { afterEach, expect, test } from "vitest";
import { z } from "zod";
import { definePlugin, type BindingContext } from "./binding-plugin.ts";
import { bindingWarnings, boundNames, createBindings } from "./plugins.ts";
import { SYNC_BUSY_MS } from "./lock-wait.ts";
import { openSharedDatabase } from "./shared-database.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function context(): BindingContext {
  const dir = mkdtempSync(join(tmpdir(), "torpor-bindings-"));
  dirs.push(dir);
  return { dataDir: dir, configDir: dir, logger: silentLogger };
}

/** A plugin that opens one shared database per binding, and records what it closed. */
function filePlugin(key: string, closed: string[], failOn?: string) {
  return definePlugin({
    key,
    schema: z.array(z.object({ binding: z.string() })),
    names: (entries) => entries.map((e) => e.binding),
    warnings: (entries, file) => entries.filter((e) => e.binding.startsWith("old_")).map((e) => `${file}: ${e.binding} is old.`),
    create(entries, ctx) {
      if (failOn !== undefined && entries.some((e) => e.binding === failOn)) throw new Error(`cannot open ${failOn}`);
      const dbs = entries.map((e) => [e.binding, openSharedDatabase(join(ctx.dataDir, key, `${e.binding}.sqlite`))] as const);
      return {
        env: Object.fromEntries(dbs.map(([name, db]) => [name, db.name])),
        close() {
          for (const [name, db] of dbs) {
            db.close();
            closed.push(name);
          }
        },
      };
    },
  });
}

test("names and warnings come from each plugin's part of the config, in plugin order", () => {
  const plugins = [filePlugin("a", []), filePlugin("b", [])];
  const config = { b: [{ binding: "B1" }], a: [{ binding: "A1" }, { binding: "old_A2" }] };
  expect(boundNames(config, plugins)).toEqual([
    { name: "A1", key: "a" },
    { name: "old_A2", key: "a" },
    { name: "B1", key: "b" },
  ]);
  expect(bindingWarnings(config, "wrangler.jsonc", plugins)).toEqual(["wrangler.jsonc: old_A2 is old."]);
});

test("createBindings makes every binding on real files and closes them all", async () => {
  const closed: string[] = [];
  const ctx = context();
  const bound = await createBindings({ a: [{ binding: "A1" }], b: [{ binding: "B1" }], other: 5 }, ctx, [filePlugin("a", closed), filePlugin("b", closed)]);
  expect(bound.env).toEqual({ A1: join(ctx.dataDir, "a", "A1.sqlite"), B1: join(ctx.dataDir, "b", "B1.sqlite") });
  await bound.close();
  expect(closed).toEqual(["B1", "A1"]);
});

test("a plugin that fails to start closes the bindings already made", async () => {
  const closed: string[] = [];
  const plugins = [filePlugin("a", closed), filePlugin("b", closed, "B1")];
  await expect(createBindings({ a: [{ binding: "A1" }], b: [{ binding: "B1" }] }, context(), plugins)).rejects.toThrow("cannot open B1");
  expect(closed).toEqual(["A1"]);
});

test("a shared database is in WAL mode with a short busy timeout (longer waits are on timers: lock-wait.ts) and full sync", () => {
  const db = openSharedDatabase(join(context().dataDir, "nested", "x.sqlite"));
  try {
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(2);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(SYNC_BUSY_MS);
  } finally {
    db.close();
  }
});
