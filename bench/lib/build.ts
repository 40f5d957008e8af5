// Builds the published packages (tsc into packages/*/dist) once per bench run, for parts that measure
// the CLI as npm installs it (BENCH_CLI=dist in servers/torpor-start.ts).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
let built = false;

/** Runs `pnpm -r --filter ./packages/* build` (core, storage-sqlite, bindings, postgres, testing, cli) unless done in this run or BENCH_BUILD=0. */
export function buildPackages(): void {
  // BENCH_BUILD=0: the packages are already built (by `pnpm build` after the last change).
  if (built || process.env.BENCH_BUILD === "0") return;
  const t = Date.now();
  console.error("[bench] building packages/* (tsc) for the CLI as installed from npm…");
  execFileSync("pnpm", ["-r", "--filter", "./packages/*", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  console.error(`[bench] built in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  built = true;
}
