// Makes sure PostgreSQL's server binaries (and PgBouncer, for the pooler
// check) are present for the cluster tests, which start their own throwaway
// servers with initdb/pg_ctl. As root with apt-get it installs Debian's
// `postgresql` and `pgbouncer` with no recommended packages and no upgrade of
// anything installed (checked first with a dry run). Debian's package creates
// the `postgres` user the tests run the server as (PostgreSQL refuses root).
// The tests never use the package's own cluster (they run private servers on
// their own socket directories and ports). Prints one line; where it cannot install, the PostgreSQL
// tests skip themselves with the reason.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

const say = (line) => process.stdout.write(`ensure-postgres: ${line}\n`);
const hasServer = () => existsSync("/usr/lib/postgresql") && readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`));
const hasBouncer = () => existsSync("/usr/sbin/pgbouncer") || existsSync("/usr/bin/pgbouncer");
const wanted = [...(hasServer() ? [] : ["postgresql"]), ...(hasBouncer() ? [] : ["pgbouncer"])];
if (wanted.length === 0 || process.env.TORPOR_SKIP_POSTGRES === "1") process.exit(0);

const manual = `apt-get install --no-install-recommends ${wanted.join(" ")}`;
if (!existsSync("/usr/bin/apt-get")) {
  say(`no ${wanted.join(" or ")} and no apt-get here: the PostgreSQL tests are skipped (install them, or set TORPOR_PG_BIN to a PostgreSQL bin directory).`);
  process.exit(0);
}
if (typeof process.getuid !== "function" || process.getuid() !== 0) {
  say(`no ${wanted.join(" or ")}: the PostgreSQL tests are skipped (not root, so not installing; run ${manual}).`);
  process.exit(0);
}

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" };
const apt = (args) => execFileSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const installArgs = ["install", "-y", "--no-install-recommends", "--no-upgrade", ...wanted];
try {
  apt(["update", "-qq"]);
  const plan = apt(["-s", ...installArgs]);
  const upgrades = [...plan.matchAll(/^Inst (\S+) \[[^\]]+\] \(/gm)].map((m) => m[1]);
  if (upgrades.length > 0) {
    say(
      `installing ${wanted.join(" ")} would upgrade ${upgrades.length} installed packages (${upgrades.join(", ")}); not done, the PostgreSQL tests are skipped (run ${manual}).`,
    );
    process.exit(0);
  }
  const fresh = [...plan.matchAll(/^Inst (\S+) \(/gm)].length;
  say(`installing Debian's ${wanted.join(" and ")} (${fresh} new packages, no recommends, nothing upgraded) for the cluster tests…`);
  apt(["-qq", ...installArgs]);
} catch (error) {
  process.stderr.write(`${error.stdout ?? ""}${error.stderr ?? ""}`);
  say(`apt-get failed (${error.message.split("\n")[0]}): the PostgreSQL tests are skipped (run ${manual}).`);
}
