// The setup file the torpor() vitest plugin adds: every test file gets a
// fresh runtime (empty storage) before its tests, closed after them.
import { afterAll } from "vitest";
// Served by the plugin (plugin.ts): the wrangler config as JSON and an import of the Worker's main module.
import { config, loadMain } from "virtual:torpor/worker-config";
import { closeWorkerRuntime, startWorkerRuntime } from "./worker-runtime.ts";

await startWorkerRuntime(config, loadMain);
afterAll(closeWorkerRuntime);
