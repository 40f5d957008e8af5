#!/usr/bin/env node
// The `torpor` command. It runs in one process (so SIGTERM reaches the
// runtime directly, with no parent to forward signals).
//
// Run from its build (dist/, as installed from npm) it registers no module
// hooks: in Node 20 each `module.register` starts a loader thread with its own
// V8 isolate (about 36 MiB per process with tsx), paid again by every worker
// of a cluster. The Worker's code is bundled with esbuild before it is
// imported (src/worker-bundle.ts: TypeScript, `cloudflare:*` imports and
// module rules are handled there), so nothing else needs hooks.
//
// Run from a source checkout (this repository, where src/main.ts exists), the
// CLI's own code is TypeScript: tsx loads it, and ./hooks.js adds the
// `@torpor/source` export condition, so a fresh clone needs no build.
import { existsSync } from "node:fs";

const fromSource = existsSync(new URL("../src/main.ts", import.meta.url));
if (fromSource) {
  const { register } = await import("node:module");
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register("./hooks.js", import.meta.url);
}

const main = new URL(fromSource ? "../src/main.ts" : "../dist/main.js", import.meta.url);
const { run } = await import(main.href);
await run(process.argv.slice(2));
