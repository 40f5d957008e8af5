#!/usr/bin/env node
// The `torpor` command. It runs in one process (so SIGTERM reaches the
// runtime directly, with no parent to forward signals) and installs two sets
// of module hooks before loading anything else:
// - tsx, because Node 20 cannot run TypeScript: both the Worker's entry file
//   (often `src/index.ts`) and, in this repository, the CLI's own source;
// - ./hooks.js, which maps `cloudflare:workers` (and the other cloudflare:*
//   modules) to core's modules and, when
//   running from a source checkout, adds the `@torpor/source` export condition
//   that `--conditions` would otherwise set (it cannot be set at run time, but
//   a resolve hook may pass extra conditions on), so a fresh clone needs no build.
import { existsSync } from "node:fs";
import { register } from "node:module";
import { register as registerTsx } from "tsx/esm/api";

const fromSource = existsSync(new URL("../src/main.ts", import.meta.url));
const main = new URL(fromSource ? "../src/main.ts" : "../dist/main.js", import.meta.url);

// Every module tsx loads is reported, so `torpor dev` can watch the Worker's import graph
// (the URLs arrive asynchronously from the loader thread; early ones wait here for a listener).
const imported = [];
let onImport = null;
registerTsx({ onImport: (url) => (onImport === null ? imported.push(url) : onImport(url)) });
register("./hooks.js", import.meta.url, { data: { sourceCondition: fromSource } });

const { run } = await import(main.href);
await run(process.argv.slice(2), {
  watchImports(listener) {
    onImport = listener;
    for (const url of imported.splice(0)) listener(url);
  },
});
