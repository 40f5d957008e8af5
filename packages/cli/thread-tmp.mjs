import { Worker } from "node:worker_threads";
import "esbuild"; import "node:net"; import "node:http"; import "node:child_process";
import "../core/dist/errors.js"; import "../core/dist/logger.js"; import "../core/dist/idle-collector.js";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mode = process.argv[2];
if (mode === "thread") {
  const w = new Worker(`const { serveSettings } = await import(${JSON.stringify(new URL("./dist/serve-settings.js", import.meta.url).href)}); const { parseCliArgs } = await import(${JSON.stringify(new URL("./dist/args.js", import.meta.url).href)}); const { parentPort } = await import("node:worker_threads"); const s = serveSettings(parseCliArgs(["start","-c","/work/wt/lean-supervisor/bench/project/wrangler.jsonc"]), process.cwd()); parentPort.postMessage(JSON.parse(JSON.stringify(s)));`, { eval: true, type: "module" });
  await new Promise((r) => w.once("message", (m) => { console.log("got", Object.keys(m)); r(); }));
  await new Promise((r) => w.once("exit", r));
} else if (mode === "inline") {
  const { serveSettings } = await import("./dist/serve-settings.js"); const { parseCliArgs } = await import("./dist/args.js");
  serveSettings(parseCliArgs(["start","-c","/work/wt/lean-supervisor/bench/project/wrangler.jsonc"]), process.cwd());
}
for (let i = 0; i < 3; i++) { gc(); await sleep(2000); }
const m = process.memoryUsage();
console.log(mode, "rss", (m.rss / 1e6).toFixed(1), "heapUsed", (m.heapUsed / 2 ** 20).toFixed(2));
