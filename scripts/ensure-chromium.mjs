// Makes sure a Chromium is present for the browser end-to-end test (run by
// `pnpm test` before the suites). Playwright cannot download its own browser
// here, so Debian's package is used. As root with apt-get it installs
// `chromium` and nothing else: no recommended packages (107 packages instead of
// 19 on Debian 12) and no upgrade of anything already installed; a dry run
// (`apt-get -s`) checks that first. Prints one line; apt's own output is shown
// only if it fails. Where it cannot install, the browser test skips itself.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (existsSync(CHROMIUM) || process.env.TORPOR_SKIP_BROWSER === "1") process.exit(0);

const say = (line) => process.stdout.write(`ensure-chromium: ${line}\n`);
const manual = "apt-get install --no-install-recommends chromium, or set CHROMIUM_PATH to a Chromium binary";

if (!existsSync("/usr/bin/apt-get")) {
  say(`no Chromium at ${CHROMIUM} and no apt-get here: the browser test is skipped (install Chromium and set CHROMIUM_PATH to run it).`);
  process.exit(0);
}
if (typeof process.getuid !== "function" || process.getuid() !== 0) {
  say(`no Chromium at ${CHROMIUM}: the browser test is skipped (not root, so not installing; run ${manual}).`);
  process.exit(0);
}

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" };
const apt = (args) => execFileSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const installArgs = ["install", "-y", "--no-install-recommends", "--no-upgrade", "chromium"];

try {
  apt(["update", "-qq"]);
  const plan = apt(["-s", ...installArgs]);
  // "Inst name [installed-version] (new-version ...)": a bracketed version right after the name is an upgrade.
  const upgrades = [...plan.matchAll(/^Inst (\S+) \[[^\]]+\] \(/gm)].map((m) => m[1]);
  const fresh = [...plan.matchAll(/^Inst (\S+) \(/gm)].length;
  if (upgrades.length > 0) {
    say(
      `installing Chromium would upgrade ${upgrades.length} installed packages (${upgrades.join(", ")}); not done, the browser test is skipped (run ${manual}).`,
    );
    process.exit(0);
  }
  if (fresh === 0) {
    say(`apt has nothing to install, yet there is no Chromium at ${CHROMIUM}: the browser test is skipped (set CHROMIUM_PATH).`);
    process.exit(0);
  }
  say(`installing Debian's chromium (${fresh} new packages, no recommends, nothing upgraded) for the browser test…`);
  apt(["-qq", ...installArgs]);
} catch (error) {
  const e = /** @type {{ stdout?: string, stderr?: string, message: string }} */ (error);
  process.stderr.write(`${e.stdout ?? ""}${e.stderr ?? ""}`);
  say(`apt-get failed (${e.message.split("\n")[0]}): the browser test is skipped (run ${manual}).`);
}
