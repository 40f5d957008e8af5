// Usage: node smaps.mjs <pid>...  — RSS by mapping kind, in MiB ("[heap]" is glibc's main arena; "[arenas]" its
// thread arenas: anonymous read-write mappings at a 64 MiB boundary, where glibc places each thread heap).
import { readFileSync } from "node:fs";
const ARENA_ALIGN = 64n * 1024n * 1024n;
export function breakdown(pid) {
  const text = readFileSync(`/proc/${pid}/smaps`, "utf8");
  const out = { total: 0 };
  let name = "";
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[3] || (BigInt(`0x${head[1]}`) % ARENA_ALIGN === 0n && head[2].startsWith("rw") ? "[arenas]" : "[anon]");
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) {
      const kb = Number(m[1]);
      let k = name;
      if (k.endsWith("/node")) k = "node binary";
      else if (k.includes(".so")) k = "libs";
      else if (k.endsWith(".node")) k = "addons";
      else if (k.startsWith("/")) k = "other files";
      out[k] = (out[k] ?? 0) + kb;
      out.total += kb;
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, +(v / 1024).toFixed(1)]));
}
if (import.meta.url === `file://${process.argv[1]}`) for (const p of process.argv.slice(2)) console.log(p, JSON.stringify(breakdown(p)));
