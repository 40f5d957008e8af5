// `pnpm pack:packages`: builds the published packages and packs them
// into packs/ at the repository root, as npm would publish them (pnpm turns
// the workspace:* and catalog: ranges into real versions while packing).
// Install them anywhere with `npm install ../torpor/packs/*.tgz`.
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const out = fileURLToPath(new URL("../packs/", import.meta.url));
const filter = ["--filter", "./packages/*"];
const run = (args) => execFileSync("pnpm", ["-r", "--silent", ...filter, ...args], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });

rmSync(out, { recursive: true, force: true });
run(["build"]);
run(["pack", "--pack-destination", out]);
for (const file of readdirSync(out).sort()) process.stdout.write(`packs/${file}\n`);
