// usage: node --expose-gc imp.mjs spec...
const base = "file:///work/wt/lean-supervisor/packages/cli/dist/";
for (const s of process.argv.slice(2)) await import(s.startsWith(".") ? new URL(s, base).href : s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 3; i++) { gc(); await sleep(2000); }
const m = process.memoryUsage();
console.log(process.argv.slice(2).join(" ") || "(none)", "rss", (m.rss / 1e6).toFixed(1), "heapUsed", (m.heapUsed / 2 ** 20).toFixed(2));
