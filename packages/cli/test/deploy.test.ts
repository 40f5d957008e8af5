/**
 * The deployment files in deploy/ (docs/deploy.md), checked as far as this
 * machine can: the systemd unit with `systemd-analyze verify` (its paths
 * pointed at this checkout), and the Dockerfile run as a script (there is no
 * Docker daemon here): its CMD starts a server (ports made 0, the volume a
 * temporary directory) and its HEALTHCHECK command passes while that server
 * is ready and fails once it has stopped.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it, onTestFinished } from "vitest";
import { project, startTorpor } from "./helpers.ts";

const deploy = fileURLToPath(new URL("../../../deploy/", import.meta.url));
const bin = fileURLToPath(new URL("../bin/torpor.js", import.meta.url));
const hasSystemd = spawnSync("systemd-analyze", ["--version"]).status === 0;

it.skipIf(!hasSystemd)("the systemd unit passes systemd-analyze verify, with ExecReload running torpor reload and a lock-aware restart policy", () => {
  const unit = readFileSync(join(deploy, "torpor.service"), "utf8");
  expect(unit).toMatch(/^ExecReload=\S+ reload --persist-to \/var\/lib\/torpor$/m);
  expect(unit).toMatch(/^Restart=on-failure$/m);
  expect(unit).toMatch(/^LimitNOFILE=\d+$/m);
  const dir = project({});
  // The unit's binary must exist for verify: this checkout's.
  writeFileSync(join(dir, "torpor.service"), unit.replaceAll("/srv/torpor-app/node_modules/.bin/torpor", bin).replaceAll("/srv/torpor-app", dir));
  const result = spawnSync("systemd-analyze", ["verify", join(dir, "torpor.service")], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
});

/** The exec-form JSON array of a Dockerfile instruction. */
function execForm(dockerfile: string, instruction: string): string[] {
  const line = dockerfile.split("\n").find((l) => l.startsWith(`${instruction} `));
  expect(line, instruction).toBeDefined();
  return JSON.parse(line!.slice(line!.indexOf("[")));
}

it("the Dockerfile: node 20 slim, non-root, a data volume; its CMD serves and its HEALTHCHECK follows /readyz", { timeout: 90_000 }, async () => {
  const dockerfile = readFileSync(join(deploy, "Dockerfile"), "utf8");
  expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
  expect(dockerfile).toMatch(/^USER torpor$/m);
  expect(dockerfile).toMatch(/^VOLUME \/data$/m);
  const cmd = execForm(dockerfile, "CMD");
  const health = execForm(dockerfile, "HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD");
  expect(cmd.slice(0, 2)).toEqual(["node_modules/.bin/torpor", "start"]);

  const app = project({
    "wrangler.json": JSON.stringify({ main: "worker.js", compatibility_date: "2025-06-01" }),
    "worker.js": `export default { fetch: () => new Response("from the image") };\n`,
  });
  const data = join(app, "data");
  mkdirSync(data);
  // The image's paths and fixed ports, made this machine's: the volume is a temporary folder, ports 0.
  const args = cmd
    .slice(1)
    .map((a) => (a === "/data" ? data : a === "8787" || a === "8788" ? "0" : a === "0.0.0.0" ? "127.0.0.1" : a))
    .concat(["--workers", "1"]);
  const server = await startTorpor(args, app, 40_000);
  onTestFinished(() => void server.child.kill("SIGKILL"));
  expect(await (await fetch(server.url)).text()).toBe("from the image");
  const admin = /"message":"Admin listening","url":"([^"]+)"/.exec(server.stdout())?.[1] ?? (await waitForAdmin(server.stdout));
  const probe = () =>
    spawnSync(
      health[0]!,
      health.slice(1).map((a) => a.replace("http://127.0.0.1:8788", admin)),
      { encoding: "utf8", timeout: 20_000 },
    );
  expect(health[0]).toBe("node");
  expect(probe().status).toBe(0);
  expect(await server.stop()).toBe(0);
  expect(probe().status).toBe(1);
  expect(existsSync(join(data, "torpor.lock"))).toBe(true);
});

async function waitForAdmin(stdout: () => string): Promise<string> {
  await expect.poll(() => /"message":"Admin listening","url":"([^"]+)"/.exec(stdout())?.[1]).toBeDefined();
  return /"message":"Admin listening","url":"([^"]+)"/.exec(stdout())![1]!;
}

it("the compose file and proxy examples name the ports, volume and WebSocket settings the docs describe", () => {
  const compose = readFileSync(join(deploy, "compose.yaml"), "utf8");
  expect(compose).toMatch(/- data:\/data/);
  expect(compose).toMatch(/stop_grace_period: 60s/);
  const nginx = readFileSync(join(deploy, "nginx.conf"), "utf8");
  expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
  expect(nginx).toMatch(/proxy_read_timeout 1h;/);
  expect(readFileSync(join(deploy, "Caddyfile"), "utf8")).toMatch(/reverse_proxy 127\.0\.0\.1:8787/);
  // The nginx syntax, when an nginx is installed to check it with.
  const nginxBin = spawnSync("nginx", ["-v"]).status === 0;
  if (nginxBin) {
    const dir = project({});
    writeFileSync(join(dir, "nginx.conf"), `events {}\nhttp {\n${nginx.replace(/listen 443 ssl;[\s\S]*?ssl_certificate_key [^\n]*\n/, "listen 8080;\n")}\n}\n`);
    execFileSync("nginx", ["-t", "-c", join(dir, "nginx.conf")], { stdio: "pipe" });
  }
});
