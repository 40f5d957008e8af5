// The reload's move alone, at one size, without the rest of `pnpm bench cluster` (which runs it at 1,000 and
// 10,000 with everything else): `torpor start --workers 2` holding N hibernated WebSockets over 100 objects,
// SIGHUP, and the supervisor's "Reloaded" line (moveMs: from the new workers ready to their holding every
// moved socket); every socket must answer afterwards. With BENCH_BASE_ROOT=<checkout> the same for that
// checkout, the two sides alternating ROUNDS times (this checkout first, or the base with BASE_FIRST=1). Run it under
// the bench lock:
//   flock /work/tools/bench.lock node --conditions=@torpor/source --import tsx bench/scripts/reload-move.ts 10000
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { reloadOnce } from "../cluster.ts";
import { loadWs } from "../lib/deps.ts";

const sockets = Number(process.argv[2] ?? 1_000);
const rounds = Number(process.env.ROUNDS ?? 1);
const sides: Array<[string, string]> = [["this checkout", fileURLToPath(new URL("../../packages/cli/bin/torpor.js", import.meta.url))]];
if (process.env.BENCH_BASE_ROOT !== undefined) sides.push([process.env.BENCH_BASE_ROOT, join(process.env.BENCH_BASE_ROOT, "packages/cli/bin/torpor.js")]);
// BASE_FIRST=1: the base side first in each round (so that neither side always runs on a machine the other warmed).
if (process.env.BASE_FIRST === "1") sides.reverse();
const ws = await loadWs();
const dir = mkdtempSync(join(tmpdir(), "torpor-reload-move-"));
try {
  for (let round = 0; round < rounds; round++) {
    for (const [name, bin] of sides) {
      const load = loadavg()[0]!.toFixed(1);
      const { line, answered, closes } = await reloadOnce(ws, join(dir, `r${round}-${name === "this checkout" ? "this" : "base"}`), sockets, bin);
      process.stdout.write(
        `${name}: ${sockets} sockets, moveMs ${line.moveMs} (reload ${line.ms} ms; moved ${line.socketsMoved}, closed ${line.socketsClosed}, batched ${line.batched ?? "n/a"}); ${answered} answered after, ${closes} closed; load ${load} -> ${loadavg()[0]!.toFixed(1)}\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
