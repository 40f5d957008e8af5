import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { torpor, type TorporPluginOptions } from "./plugin.ts";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the plugin's config hook as vitest would, in a fresh project directory. */
async function configure(options: TorporPluginOptions, wrangler?: string) {
  dir = mkdtempSync(join(tmpdir(), "torpor-plugin-"));
  if (wrangler !== undefined) writeFileSync(join(dir, "wrangler.jsonc"), wrangler);
  const plugin = torpor(options);
  const config = await (plugin.config as (c: object) => Promise<{ test: { setupFiles: string[] } }>)({ root: dir });
  const load = (plugin.load as (id: string) => string | null).bind(plugin);
  return { config, workerModule: load("\0virtual:torpor/worker-config") };
}

test("reads main, bindings and vars from the wrangler config and adds its setup file", async () => {
  const { config, workerModule } = await configure(
    { wrangler: { configPath: "./wrangler.jsonc" }, miniflare: { bindings: { EXTRA: 1 } } },
    '{ "main": "src/index.ts", "vars": { "A": "a" }, "durable_objects": { "bindings": [{ "name": "ROOM", "class_name": "Room" }] }, "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Room"] }] }',
  );
  expect(config.test.setupFiles).toEqual([expect.stringMatching(/vitest[/\\]setup\.ts$/)]);
  expect(workerModule).toContain(`"main":${JSON.stringify(join(dir, "src/index.ts"))}`);
  expect(workerModule).toContain('"bindings":[{"name":"ROOM","className":"Room"}]');
  expect(workerModule).toContain('"vars":{"A":"a","EXTRA":1}');
});

test("a config error is the CLI's", async () => {
  await expect(configure({ wrangler: { configPath: "./wrangler.jsonc" } }, '{ "main": 5 }')).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
});

test("no entry, or a named environment, is refused with the fix", async () => {
  await expect(configure({})).rejects.toMatchObject({
    code: "ERR_TEST_CONFIG",
    message: expect.stringMatching(/no Worker entry. Pass wrangler: \{ configPath/),
  });
  await expect(configure({ wrangler: { configPath: "./wrangler.jsonc" } }, "{}")).rejects.toThrow(/has no "main"; add it or pass main/);
  await expect(configure({ main: "./x.ts", wrangler: { environment: "staging" } })).rejects.toThrow(/wrangler.environment "staging" is not supported/);
});

test("a service binding to another Worker is warned about (the plugin runs only the Worker under test); one to itself is not", async () => {
  dir = mkdtempSync(join(tmpdir(), "torpor-plugin-"));
  writeFileSync(
    join(dir, "wrangler.jsonc"),
    '{ "name": "me", "main": "src/index.ts", "services": [{ "binding": "SELF_SVC", "service": "me" }, { "binding": "AUTH", "service": "auth" }] }',
  );
  const plugin = torpor({ wrangler: { configPath: "./wrangler.jsonc" } });
  await (plugin.config as (c: object) => Promise<unknown>)({ root: dir });
  const warned: string[] = [];
  (plugin.configResolved as (c: object) => void)({ logger: { warn: (line: string) => warned.push(line) } });
  expect(warned).toEqual([expect.stringMatching(/service binding AUTH names the Worker "auth", which this plugin does not run .*ERR_SERVICE_NOT_FOUND/)]);
  const load = (plugin.load as (id: string) => string | null).bind(plugin);
  expect(load("\0virtual:torpor/worker-config")).toContain('"services":[{"binding":"SELF_SVC","service":"me"},{"binding":"AUTH","service":"auth"}]');
});
