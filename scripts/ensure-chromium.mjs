// Makes sure Debian's Chromium is present for the browser end-to-end test.
// Playwright cannot download its own browser here, so the system package is
// used; as root with apt-get available it is installed, otherwise the test
// reports what to install.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = process.env.TORPOR_CHROMIUM ?? "/usr/bin/chromium";
if (existsSync(CHROMIUM) || process.env.TORPOR_SKIP_BROWSER === "1") process.exit(0);

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
if (isRoot && existsSync("/usr/bin/apt-get")) {
  process.stdout.write("Installing Debian's chromium for the browser test (apt-get)…\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env });
} else {
  process.stderr.write(`Chromium not found at ${CHROMIUM}. Install it (Debian: apt-get install chromium) or set TORPOR_SKIP_BROWSER=1.\n`);
}
