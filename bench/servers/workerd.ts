// workerd running the same Worker (bench/project/src/index.js) through miniflare. This wrapper is
// started pinned to the server core, so workerd (its child) is too; figures come from /proc.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadMiniflare } from "../lib/deps.ts";
import { cpuOf, fdsOf, findDescendant, rssOf } from "../lib/procfs.ts";
import { serve } from "../lib/proc.ts";

const { Miniflare, Log, LogLevel } = await loadMiniflare();
const persist = `${process.env.BENCH_DIR}/workerd`;
mkdirSync(persist, { recursive: true });
const mf = new Miniflare({
  modules: true,
  scriptPath: fileURLToPath(new URL("../project/src/index.js", import.meta.url)),
  compatibilityDate: "2025-06-01",
  bindings: { MODE: process.env.BENCH_MODE ?? "echo" },
  durableObjects: { ROOM: { className: "Room", useSQLite: true } },
  durableObjectsPersist: persist,
  cf: false,
  log: new Log(LogLevel.WARN),
});
const url = await mf.ready;
const pid = findDescendant(process.pid, "workerd");
if (pid === null) throw new Error("workerd process not found under miniflare");
process.on("SIGTERM", () => void mf.dispose().finally(() => process.exit(0)));

serve(
  {
    stats: () => ({ rss: rssOf(pid), fds: fdsOf(pid), cpuUs: cpuOf(pid), heapUsed: NaN, heapTotal: NaN, external: NaN }),
    cpu: () => cpuOf(pid),
    fds: () => fdsOf(pid),
  },
  { port: Number(url.port), pid },
);
